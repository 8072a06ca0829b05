//! What the integration tests share: a small seeded generator of inputs.

/// Xorshift: the same inputs on every run and machine.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn normal_ish(&mut self) -> f32 {
        (0..4)
            .map(|_| (self.next() % 10_000) as f32 / 10_000.0)
            .sum::<f32>()
            - 2.0
    }
    pub fn matrix(&mut self, rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols).map(|_| self.normal_ish()).collect()
    }
    pub fn labels(&mut self, rows: usize, classes: usize) -> Vec<i32> {
        (0..rows)
            .map(|_| (self.next() % classes as u64) as i32)
            .collect()
    }
}
