//! A minimal reader for the protobuf wire format.

use super::ProtobufError;

/// The largest field number protobuf allows.
const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireValue<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, nested messages and packed repeated scalars.
    Len(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

impl WireValue<'_> {
    /// A short name of the wire type, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Varint(_) => "varint",
            Self::Fixed64(_) => "fixed64",
            Self::Len(_) => "length-delimited",
            Self::Fixed32(_) => "fixed32",
        }
    }
}

/// A wire-level error: what went wrong and at which byte of the message being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError {
    offset: usize,
    reason: &'static str,
}

impl WireError {
    /// Turns the error into a [`ProtobufError`] located at `path`.
    pub(crate) fn at(self, path: &str) -> ProtobufError {
        ProtobufError::malformed(path, format!("{} at byte {}", self.reason, self.offset))
    }
}

/// Reads fields one by one from a message's bytes.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Whether every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn error(&self, reason: &'static str) -> WireError {
        WireError { offset: self.pos, reason }
    }

    /// Reads one base-128 varint.
    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                self.pos = start;
                return Err(self.error("truncated varint"));
            };
            self.pos += 1;
            if i == 9 && byte > 1 {
                self.pos = start;
                return Err(self.error("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        self.pos = start;
        Err(self.error("varint longer than 10 bytes"))
    }

    fn take(&mut self, len: usize, reason: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(len).filter(|&end| end <= self.buf.len()).ok_or_else(|| self.error(reason))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// Reads the next field: its number and value. `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, WireError> {
        if self.is_empty() {
            return Ok(None);
        }
        let key_at = self.pos;
        let key = self.varint()?;
        let Some(number) = u32::try_from(key >> 3).ok().filter(|&n| n != 0 && n <= MAX_FIELD_NUMBER) else {
            self.pos = key_at;
            return Err(self.error("invalid field number"));
        };
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => {
                let bytes = self.take(8, "truncated fixed64")?;
                WireValue::Fixed64(u64::from_le_bytes(bytes.try_into().unwrap_or_default()))
            }
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| self.error("length too large"))?;
                WireValue::Len(self.take(len, "length-delimited field runs past the end")?)
            }
            5 => {
                let bytes = self.take(4, "truncated fixed32")?;
                WireValue::Fixed32(u32::from_le_bytes(bytes.try_into().unwrap_or_default()))
            }
            _ => {
                self.pos = key_at;
                return Err(self.error("unsupported wire type (groups are not used by Kubernetes)"));
            }
        };
        Ok(Some((number, value)))
    }
}
