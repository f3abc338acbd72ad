//! Errors of the core crate.

/// A hyper-parameter outside its valid range, e.g. `beta = 1.5`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidParameter {
    /// The offending field as a dotted path, e.g. `neuron.beta` or `hidden[0]`.
    pub field: String,
    /// What was expected and what was found.
    pub message: String,
}

impl InvalidParameter {
    /// An error for `field` with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error with `prefix.` put before the field name.
    #[must_use]
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}
