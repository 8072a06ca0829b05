/** The devices every test runs on: the pure-TypeScript reference and the native CPU backend. */
export const DEVICES = ['js', 'cpu'] as const
export type TestDevice = (typeof DEVICES)[number]
