/** Central finite differences, for checking analytic gradients. */

/**
 * ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / (x_i⁺ − x_i⁻), where x_i± are the float32 values actually
 * passed (so float32 rounding of x ± h does not bias the quotient).
 */
export function numericGrad(f: (x: Float32Array) => number, x0: Float32Array, h = 1e-3): Float64Array {
  const g = new Float64Array(x0.length)
  for (let i = 0; i < x0.length; i++) {
    const plus = x0.slice()
    const minus = x0.slice()
    plus[i] = x0[i] + h
    minus[i] = x0[i] - h
    g[i] = (f(plus) - f(minus)) / (plus[i] - minus[i])
  }
  return g
}
