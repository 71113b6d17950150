//! What a plugin answers: kube-scheduler's status codes, with reasons.

use std::fmt;

/// The outcome of running a plugin at an extension point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// The plugin ran and found nothing wrong.
    Success,
    /// An internal failure: the pod is retried later.
    Error,
    /// The pod does not fit this node now; preemption might make room.
    Unschedulable,
    /// The pod does not fit this node, and preemption would not help.
    UnschedulableAndUnresolvable,
    /// Permit: the pod waits for an allow or reject.
    Wait,
    /// The plugin has nothing to say for this pod (its later points are skipped).
    Skip,
    /// The pod waits for something outside the scheduler.
    Pending,
}

/// A code with the reasons behind it and the plugin that gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    code: Code,
    reasons: Vec<String>,
    plugin: &'static str,
}

impl Default for Status {
    fn default() -> Self {
        Status::success()
    }
}

impl Status {
    /// Success.
    pub fn success() -> Self {
        Status { code: Code::Success, reasons: Vec::new(), plugin: "" }
    }

    /// A status with one reason.
    pub fn new(code: Code, reason: impl Into<String>) -> Self {
        Status { code, reasons: vec![reason.into()], plugin: "" }
    }

    /// A status with several reasons.
    pub fn with_reasons(code: Code, reasons: Vec<String>) -> Self {
        Status { code, reasons, plugin: "" }
    }

    /// Unschedulable with `reason`.
    pub fn unschedulable(reason: impl Into<String>) -> Self {
        Status::new(Code::Unschedulable, reason)
    }

    /// UnschedulableAndUnresolvable with `reason`.
    pub fn unresolvable(reason: impl Into<String>) -> Self {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    /// An internal error.
    pub fn error(reason: impl Into<String>) -> Self {
        Status::new(Code::Error, reason)
    }

    /// Wait (from Permit: hold the pod until allowed, rejected or timed out).
    pub fn wait(reason: impl Into<String>) -> Self {
        Status::new(Code::Wait, reason)
    }

    /// Skip.
    pub fn skip() -> Self {
        Status { code: Code::Skip, reasons: Vec::new(), plugin: "" }
    }

    /// The same status, naming the plugin that gave it.
    #[must_use]
    pub fn from_plugin(mut self, plugin: &'static str) -> Self {
        self.plugin = plugin;
        self
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The reasons (as FailedScheduling messages count them).
    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }

    /// The plugin that gave it ("" when not set).
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// Whether it is Success.
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// Whether the pod does not fit (resolvable or not).
    pub fn is_rejected(&self) -> bool {
        matches!(self.code, Code::Unschedulable | Code::UnschedulableAndUnresolvable)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.code)?;
        if !self.reasons.is_empty() {
            write!(f, ": {}", self.reasons.join(", "))?;
        }
        Ok(())
    }
}
