// Written from the options table of crates/node/src/options.rs by its test
// `the_typescript_option_names_follow_the_table`; run it with UPDATE_GENERATED=1 to
// write it again. The option names each binding options struct takes.

export const NATIVE_OPTION_KEYS = {
  MetricOptions: ['metric', 'normalize', 'device', 'maxMemory'],
  SearchOptions: ['k', 'excludeSelf', 'queryOffset'],
  MineOptions: ['strategy', 'margin', 'maxTriplets', 'sample', 'metric', 'normalize', 'device', 'maxMemory'],
  LossOptions: ['strategy', 'margin', 'softMargin', 'swap', 'reduction', 'maxTriplets', 'sample', 'metric', 'normalize', 'device', 'maxMemory'],
  MarginLossOptions: ['margin', 'softMargin', 'swap', 'reduction', 'metric', 'normalize', 'device', 'maxMemory'],
  ContrastiveOptions: ['posMargin', 'negMargin', 'reduction', 'metric', 'normalize', 'device', 'maxMemory'],
  SupConOptions: ['temperature', 'device', 'maxMemory'],
  RankingOptions: ['scale', 'similarity', 'symmetric', 'device', 'maxMemory'],
  VerificationOptions: ['far', 'metric', 'normalize', 'device', 'maxMemory'],
  LadderOptions: ['thresholds', 'margins', 'weights', 'hardest', 'similarity', 'device', 'maxMemory'],
  RetrievalOptions: ['k', 'metric', 'normalize', 'device', 'maxMemory'],
  OasisOptions: ['c', 'steps', 'state', 'device', 'maxMemory'],
} as const
