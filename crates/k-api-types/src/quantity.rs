//! Exact resource quantities (`500m`, `1Gi`, `2e3`), wire-compatible with
//! Kubernetes' `resource.Quantity`.
//!
//! A [`Quantity`] is an exact fixed-point decimal number together with the
//! [`QuantityFormat`] it was written in. Parsing accepts every form Kubernetes
//! accepts; [`Display`](std::fmt::Display) and serialization write the
//! canonical form that kube-apiserver writes back (`1.5` → `1500m`,
//! `1.5Gi` → `1536Mi`, `2000` → `2k`).
//!
//! # Precision and range
//!
//! Values are stored as a signed count of nano-units (10⁻⁹). Like Kubernetes,
//! a value with a non-zero part finer than one nano-unit is rounded *up*
//! (away from zero) to the next nano-unit, so `0.0000000001` becomes `1n`.
//!
//! The magnitude is limited to `i128::MAX` nano-units, i.e. about
//! 1.7 × 10²⁹ (`170141183460469231731687303715.884105727`). Parsing a larger
//! value is an error ([`QuantityParseErrorKind::OutOfRange`]). This is far
//! beyond what Kubernetes itself serves: it documents quantities as capped at
//! 2⁶³−1, and caps larger parsed values instead of rejecting them.

use crate::SortedMap;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// Resource name → quantity, e.g. `{"cpu": "500m", "memory": "1Gi"}`.
///
/// Used for container `requests`/`limits`, node `capacity`/`allocatable`,
/// quota `hard`/`used` and similar fields. Keys are resource names such as
/// `cpu`, `memory`, `ephemeral-storage`, `pods` or extended resources like
/// `nvidia.com/gpu`.
pub type ResourceList = SortedMap<String, Quantity>;

/// Nano-units per unit.
const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// Nano-units per milli-unit.
const NANOS_PER_MILLI: i128 = 1_000_000;
/// Largest representable magnitude, in nano-units. The range is symmetric so
/// that negation can never overflow.
const MAX_NANOS: i128 = i128::MAX;

/// The regular expression Kubernetes quotes when a quantity is malformed.
const KUBERNETES_FORMAT_REGEX: &str = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// The validation pattern used for quantities in CustomResourceDefinition
/// schemas (as emitted by Kubernetes' CRD tooling).
const QUANTITY_SCHEMA_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// Decimal SI suffixes and their power-of-ten exponents.
const DECIMAL_SUFFIXES: [(&str, i32); 10] =
    [("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18)];

/// Binary SI suffixes, indexed by their power of 1024.
const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// How a [`Quantity`] is written out.
///
/// The format is remembered from parsing (from the suffix) and decides the
/// canonical string form; it never affects the numeric value, equality or
/// ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QuantityFormat {
    /// Power-of-1000 suffixes: `n u m k M G T P E` (and no suffix), e.g. `500m`, `2k`.
    #[default]
    DecimalSI,
    /// Power-of-1024 suffixes: `Ki Mi Gi Ti Pi Ei`, e.g. `1536Mi`.
    BinarySI,
    /// A decimal exponent, e.g. `1e3`, `12e6`, `1e-3`.
    DecimalExponent,
}

/// Why a string is not a valid [`Quantity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuantityParseErrorKind {
    /// The text does not have the shape `<signed number><suffix>` (empty,
    /// whitespace, no digits, stray characters, `1.2.3`, …).
    InvalidFormat,
    /// The text has the right shape but the suffix is unknown (`1mi`, `1e`,
    /// `1KI`).
    InvalidSuffix,
    /// The value's magnitude exceeds the supported maximum (about 1.7 × 10²⁹).
    OutOfRange,
}

impl fmt::Display for QuantityParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidFormat => {
                write!(f, "quantities must match the regular expression '{KUBERNETES_FORMAT_REGEX}'")
            }
            Self::InvalidSuffix => f.write_str("unable to parse quantity's suffix"),
            Self::OutOfRange => f.write_str(
                "quantity is out of range: its magnitude must not exceed \
                 170141183460469231731687303715.884105727",
            ),
        }
    }
}

/// Error returned when parsing a [`Quantity`] fails.
///
/// The message names the (possibly truncated) input and the reason, e.g.
/// `invalid quantity "1Qi": quantities must match the regular expression
/// '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {input:?}: {kind}")]
pub struct QuantityParseError {
    input: String,
    kind: QuantityParseErrorKind,
}

impl QuantityParseError {
    /// Longest input quoted in an error message; longer inputs are truncated.
    const MAX_QUOTED_INPUT: usize = 128;

    fn new(input: &str, kind: QuantityParseErrorKind) -> Self {
        let mut end = input.len().min(Self::MAX_QUOTED_INPUT);
        while !input.is_char_boundary(end) {
            end -= 1;
        }
        let mut quoted = input[..end].to_owned();
        if end < input.len() {
            quoted.push('…');
        }
        Self { input: quoted, kind }
    }

    /// The rejected input (truncated to 128 bytes, with `…` appended, if longer).
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Why the input was rejected.
    pub fn kind(&self) -> QuantityParseErrorKind {
        self.kind
    }
}

/// An exact decimal quantity with a [`QuantityFormat`], mirroring Kubernetes'
/// `resource.Quantity`.
///
/// * Parse with [`str::parse`] / [`FromStr`]: `"500m"`, `"1Gi"`, `"1.5"`,
///   `"1e3"`, `"-2k"`, `".5"`, `"+1"`.
/// * Display / serialize in canonical form: `"0.5"` → `500m`, `"1024Mi"` →
///   `1Gi`.
/// * Equality, hashing and ordering compare the numeric value only:
///   `1Ki == 1024` and `1 == 1000m`.
/// * Deserializes from a JSON string or a JSON number (`cpu: 1`, `cpu: 0.5`).
///
/// Values are stored as an `i128` count of nano-units; see the
/// [module documentation](self) for precision and range.
#[derive(Clone)]
pub struct Quantity {
    /// The value in nano-units; always within `-MAX_NANOS..=MAX_NANOS`.
    nanos: i128,
    format: QuantityFormat,
}

impl Quantity {
    /// Builds a quantity from a nano-unit count already known to be in range.
    pub(crate) fn from_nanos(nanos: i128, format: QuantityFormat) -> Self {
        debug_assert!(nanos != i128::MIN);
        Self { nanos, format }
    }

    /// A quantity of `value / 1000` (e.g. `from_milli(500)` is `500m`), in
    /// [`QuantityFormat::DecimalSI`].
    pub fn from_milli(milli: i64) -> Self {
        Self::from_nanos(i128::from(milli) * NANOS_PER_MILLI, QuantityFormat::DecimalSI)
    }

    /// A quantity of exactly `value` units, written in `format`.
    pub fn from_value(value: i64, format: QuantityFormat) -> Self {
        Self::from_nanos(i128::from(value) * NANOS_PER_UNIT, format)
    }

    /// A quantity of `bytes` units in [`QuantityFormat::BinarySI`]
    /// (`from_bytes(1 << 30)` displays as `1Gi`).
    pub fn from_bytes(bytes: i64) -> Self {
        Self::from_value(bytes, QuantityFormat::BinarySI)
    }

    /// The format used to write this quantity.
    pub fn format(&self) -> QuantityFormat {
        self.format
    }

    /// Whether the value is exactly zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// Whether the value is strictly below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// The value in whole units, rounded up (away from zero) to the next
    /// integer, like Go's `Quantity.Value()`: `1500m` → 2, `-1500m` → -2.
    ///
    /// Saturates at `i64::MIN` / `i64::MAX` when the value does not fit.
    pub fn value(&self) -> i64 {
        scale_down_away_from_zero(self.nanos, NANOS_PER_UNIT)
    }

    /// The value in thousandths, rounded up (away from zero), like Go's
    /// `Quantity.MilliValue()`: `1.5` → 1500, `0.1m` → 1.
    ///
    /// Saturates at `i64::MIN` / `i64::MAX` when the value does not fit.
    pub fn milli_value(&self) -> i64 {
        scale_down_away_from_zero(self.nanos, NANOS_PER_MILLI)
    }

    /// The value as a byte count; the same as [`value`](Self::value).
    pub fn as_bytes(&self) -> i64 {
        self.value()
    }

    /// An approximation of the value as a floating-point number.
    pub fn as_f64(&self) -> f64 {
        let whole = self.nanos / NANOS_PER_UNIT;
        let frac = self.nanos % NANOS_PER_UNIT;
        // Both conversions are the nearest representable f64; the fraction is
        // exact (|frac| < 1e9 < 2^53).
        whole as f64 + frac as f64 / 1e9
    }

    /// `self + rhs`, or `None` if the magnitude of the result exceeds the
    /// supported maximum. The result has `self`'s format, or `rhs`'s format
    /// if `self` is zero (as in Kubernetes).
    pub fn checked_add(&self, rhs: &Quantity) -> Option<Quantity> {
        let nanos = in_range(self.nanos.checked_add(rhs.nanos)?)?;
        Some(Self::from_nanos(nanos, self.result_format(rhs)))
    }

    /// `self - rhs`, or `None` if the magnitude of the result exceeds the
    /// supported maximum. The result has `self`'s format, or `rhs`'s format
    /// if `self` is zero (as in Kubernetes).
    pub fn checked_sub(&self, rhs: &Quantity) -> Option<Quantity> {
        let nanos = in_range(self.nanos.checked_sub(rhs.nanos)?)?;
        Some(Self::from_nanos(nanos, self.result_format(rhs)))
    }

    /// `self + rhs`, saturating at the supported maximum magnitude.
    fn saturating_add(&self, rhs: &Quantity) -> Quantity {
        let nanos = self.nanos.saturating_add(rhs.nanos).max(-MAX_NANOS);
        Self::from_nanos(nanos, self.result_format(rhs))
    }

    /// `self - rhs`, saturating at the supported maximum magnitude.
    fn saturating_sub(&self, rhs: &Quantity) -> Quantity {
        let nanos = self.nanos.saturating_sub(rhs.nanos).max(-MAX_NANOS);
        Self::from_nanos(nanos, self.result_format(rhs))
    }

    /// Format of `self ± rhs`: the left operand's, unless it is zero, in
    /// which case the right operand's (Kubernetes' `Add`/`Sub` behaviour).
    fn result_format(&self, rhs: &Quantity) -> QuantityFormat {
        if self.is_zero() { rhs.format } else { self.format }
    }

    /// The canonical string form of the quantity.
    fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_owned();
        }
        match self.format {
            QuantityFormat::BinarySI
                if self.nanos.unsigned_abs() >= 1024 * NANOS_PER_UNIT.unsigned_abs()
                    && self.nanos % NANOS_PER_UNIT == 0 =>
            {
                let mut mantissa = self.nanos / NANOS_PER_UNIT;
                let mut power = 0;
                while power + 1 < BINARY_SUFFIXES.len() && mantissa % 1024 == 0 {
                    mantissa /= 1024;
                    power += 1;
                }
                format!("{mantissa}{}", BINARY_SUFFIXES[power])
            }
            QuantityFormat::DecimalExponent => {
                let (mantissa, exponent) = decimal_mantissa_exponent(self.nanos, i32::MAX);
                if exponent == 0 { mantissa.to_string() } else { format!("{mantissa}e{exponent}") }
            }
            // DecimalSI, and BinarySI values that are below 1024 in magnitude
            // or not whole numbers (Kubernetes never rounds when writing).
            QuantityFormat::DecimalSI | QuantityFormat::BinarySI => {
                let (mantissa, exponent) = decimal_mantissa_exponent(self.nanos, 18);
                let suffix = DECIMAL_SUFFIXES.iter().find(|(_, e)| *e == exponent).map_or("", |(s, _)| s);
                format!("{mantissa}{suffix}")
            }
        }
    }
}

/// Rejects `i128::MIN`, the one value outside the symmetric range.
fn in_range(nanos: i128) -> Option<i128> {
    (nanos >= -MAX_NANOS).then_some(nanos)
}

/// `nanos / divisor`, rounded away from zero and saturated to `i64`.
fn scale_down_away_from_zero(nanos: i128, divisor: i128) -> i64 {
    let mut quotient = nanos / divisor;
    if nanos % divisor != 0 {
        quotient += nanos.signum();
    }
    i64::try_from(quotient).unwrap_or(if quotient < 0 { i64::MIN } else { i64::MAX })
}

/// Splits a non-zero nano count into `(mantissa, exponent)` with
/// `value = mantissa × 10^exponent`, the exponent a multiple of three, as large
/// as possible while keeping the mantissa an integer, and at most
/// `max_exponent` (itself a multiple of three, or `i32::MAX`).
fn decimal_mantissa_exponent(nanos: i128, max_exponent: i32) -> (i128, i32) {
    let mut mantissa = nanos;
    let mut exponent = -9;
    // Move whole groups of three zeros into the exponent. Every intermediate
    // mantissa divides `nanos`, so nothing can overflow.
    while mantissa % 1000 == 0 && exponent < max_exponent {
        mantissa /= 1000;
        exponent += 3;
    }
    (mantissa, exponent)
}

impl Default for Quantity {
    /// Zero, in [`QuantityFormat::DecimalSI`].
    fn default() -> Self {
        Self::from_nanos(0, QuantityFormat::DecimalSI)
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quantity")
            .field("value", &format_args!("{}", self.canonical()))
            .field("format", &self.format)
            .finish()
    }
}

impl fmt::Display for Quantity {
    /// Writes the canonical Kubernetes form (`500m`, `1536Mi`, `2e3`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.canonical())
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Add for Quantity {
    type Output = Quantity;
    /// Exact sum; saturates at the supported maximum magnitude (see
    /// [`Quantity::checked_add`] to detect overflow).
    fn add(self, rhs: Quantity) -> Quantity {
        self.saturating_add(&rhs)
    }
}

impl Add<&Quantity> for Quantity {
    type Output = Quantity;
    /// Exact sum; saturates at the supported maximum magnitude.
    fn add(self, rhs: &Quantity) -> Quantity {
        self.saturating_add(rhs)
    }
}

impl Add<&Quantity> for &Quantity {
    type Output = Quantity;
    /// Exact sum; saturates at the supported maximum magnitude.
    fn add(self, rhs: &Quantity) -> Quantity {
        self.saturating_add(rhs)
    }
}

impl Sub for Quantity {
    type Output = Quantity;
    /// Exact difference; saturates at the supported maximum magnitude (see
    /// [`Quantity::checked_sub`] to detect overflow).
    fn sub(self, rhs: Quantity) -> Quantity {
        self.saturating_sub(&rhs)
    }
}

impl Sub<&Quantity> for Quantity {
    type Output = Quantity;
    /// Exact difference; saturates at the supported maximum magnitude.
    fn sub(self, rhs: &Quantity) -> Quantity {
        self.saturating_sub(rhs)
    }
}

impl Sub<&Quantity> for &Quantity {
    type Output = Quantity;
    /// Exact difference; saturates at the supported maximum magnitude.
    fn sub(self, rhs: &Quantity) -> Quantity {
        self.saturating_sub(rhs)
    }
}

impl AddAssign for Quantity {
    fn add_assign(&mut self, rhs: Quantity) {
        *self = self.saturating_add(&rhs);
    }
}

impl AddAssign<&Quantity> for Quantity {
    fn add_assign(&mut self, rhs: &Quantity) {
        *self = self.saturating_add(rhs);
    }
}

impl SubAssign for Quantity {
    fn sub_assign(&mut self, rhs: Quantity) {
        *self = self.saturating_sub(&rhs);
    }
}

impl SubAssign<&Quantity> for Quantity {
    fn sub_assign(&mut self, rhs: &Quantity) {
        *self = self.saturating_sub(rhs);
    }
}

impl Neg for Quantity {
    type Output = Quantity;
    /// Negation; exact (the range is symmetric), format kept.
    fn neg(self) -> Quantity {
        Self::from_nanos(-self.nanos, self.format)
    }
}

impl Neg for &Quantity {
    type Output = Quantity;
    /// Negation; exact (the range is symmetric), format kept.
    fn neg(self) -> Quantity {
        Quantity::from_nanos(-self.nanos, self.format)
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// The scaling a suffix applies.
#[derive(Debug, Clone, Copy)]
enum Multiplier {
    /// × 10^n.
    Decimal(i64),
    /// × 1024^n.
    Binary(usize),
}

/// Interprets a suffix (everything after the number).
fn interpret_suffix(suffix: &str) -> Result<(Multiplier, QuantityFormat), QuantityParseErrorKind> {
    // The shape Kubernetes requires of a suffix: [eEinumkKMGTP]*[-+]?[0-9]*
    let rest = suffix.trim_start_matches(|c: char| "eEinumkKMGTP".contains(c));
    let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QuantityParseErrorKind::InvalidFormat);
    }

    if let Some((_, exp)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Ok((Multiplier::Decimal(i64::from(*exp)), QuantityFormat::DecimalSI));
    }
    if let Some(power) = BINARY_SUFFIXES.iter().skip(1).position(|s| *s == suffix) {
        return Ok((Multiplier::Binary(power + 1), QuantityFormat::BinarySI));
    }
    if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
        // `i64::from_str` accepts exactly `[+-]?[0-9]+`.
        if let Ok(exp) = exp.parse::<i64>() {
            return Ok((Multiplier::Decimal(exp), QuantityFormat::DecimalExponent));
        }
    }
    Err(QuantityParseErrorKind::InvalidSuffix)
}

/// Parses a quantity string; see [`Quantity`]'s `FromStr` implementation.
fn parse_quantity(s: &str) -> Result<Quantity, QuantityParseErrorKind> {
    let bytes = s.as_bytes();
    let (negative, mut pos) = match bytes.first() {
        None => return Err(QuantityParseErrorKind::InvalidFormat),
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        Some(_) => (false, 0),
    };
    let digits_len = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();

    let int_digits = &bytes[pos..pos + digits_len(pos)];
    pos += int_digits.len();
    let mut frac_digits: &[u8] = &[];
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        frac_digits = &bytes[pos..pos + digits_len(pos)];
        pos += frac_digits.len();
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(QuantityParseErrorKind::InvalidFormat);
    }
    // `pos` only advanced over ASCII bytes, so it is a char boundary.
    let (multiplier, mut format) = interpret_suffix(&s[pos..])?;

    // Little-endian decimal digits of the number with the point removed.
    let mut digits: Vec<u8> = int_digits.iter().chain(frac_digits).rev().map(|b| b - b'0').collect();
    // value = digits × 10^(exp10 - 9) nano-units before rounding.
    let mut exp10: i128 = 9 - frac_digits.len() as i128;
    match multiplier {
        Multiplier::Decimal(e) => exp10 += i128::from(e),
        Multiplier::Binary(power) => {
            for _ in 0..power {
                multiply_digits(&mut digits, 1024);
            }
        }
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }

    let magnitude = if digits.is_empty() {
        0
    } else if exp10 >= 0 {
        // The value is at least 10^(len - 1 + exp10); i128::MAX < 10^39.
        if digits.len() as i128 + exp10 > 39 {
            return Err(QuantityParseErrorKind::OutOfRange);
        }
        let mut acc = digits_to_int(&digits).ok_or(QuantityParseErrorKind::OutOfRange)?;
        for _ in 0..exp10 {
            acc = acc.checked_mul(10).ok_or(QuantityParseErrorKind::OutOfRange)?;
        }
        acc
    } else {
        // Drop the digits finer than a nano-unit, rounding up if any of them
        // is non-zero (the most significant digit is non-zero, so dropping
        // everything means rounding up to 1n).
        let dropped = usize::try_from(-exp10).unwrap_or(usize::MAX);
        if dropped >= digits.len() {
            1
        } else {
            let round_up = digits[..dropped].iter().any(|&d| d != 0);
            let acc = digits_to_int(&digits[dropped..]).ok_or(QuantityParseErrorKind::OutOfRange)?;
            if round_up { acc.checked_add(1).ok_or(QuantityParseErrorKind::OutOfRange)? } else { acc }
        }
    };

    // Kubernetes writes positive binary quantities below one as DecimalSI.
    if format == QuantityFormat::BinarySI && magnitude != 0 && magnitude < NANOS_PER_UNIT {
        format = QuantityFormat::DecimalSI;
    }
    // `magnitude <= i128::MAX`, so negation cannot overflow.
    let nanos = if negative { -magnitude } else { magnitude };
    Ok(Quantity::from_nanos(nanos, format))
}

/// Multiplies little-endian decimal digits in place by a small factor.
fn multiply_digits(digits: &mut Vec<u8>, factor: u32) {
    let mut carry = 0u32;
    for d in digits.iter_mut() {
        let v = u32::from(*d) * factor + carry;
        *d = (v % 10) as u8;
        carry = v / 10;
    }
    while carry > 0 {
        digits.push((carry % 10) as u8);
        carry /= 10;
    }
}

/// Converts little-endian decimal digits to an integer, `None` on overflow.
fn digits_to_int(digits: &[u8]) -> Option<i128> {
    digits.iter().rev().try_fold(0i128, |acc, &d| acc.checked_mul(10)?.checked_add(i128::from(d)))
}

impl FromStr for Quantity {
    type Err = QuantityParseError;

    /// Parses any quantity Kubernetes accepts: an optionally signed decimal
    /// number (`5`, `0.5`, `.5`, `1.`, `+1`, `-1`) followed by an optional
    /// suffix — decimal SI `n u m k M G T P E`, binary SI
    /// `Ki Mi Gi Ti Pi Ei`, or an exponent `e3` / `E-3` / `e+3`.
    ///
    /// The format is taken from the suffix. Whitespace, an empty string, a
    /// number without digits and unknown suffixes are errors, as are values
    /// whose magnitude exceeds about 1.7 × 10²⁹.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_quantity(s).map_err(|kind| QuantityParseError::new(s, kind))
    }
}

impl TryFrom<&str> for Quantity {
    type Error = QuantityParseError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

// ---------------------------------------------------------------------------
// serde / schemars
// ---------------------------------------------------------------------------

impl Serialize for Quantity {
    /// Serializes as the canonical string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical())
    }
}

/// Deserializes a [`Quantity`] from a string or a number.
struct QuantityVisitor;

impl QuantityVisitor {
    fn from_int<E: de::Error>(value: i128) -> Result<Quantity, E> {
        value
            .checked_mul(NANOS_PER_UNIT)
            .and_then(in_range)
            .map(|nanos| Quantity::from_nanos(nanos, QuantityFormat::DecimalSI))
            .ok_or_else(|| E::custom(QuantityParseError::new(&value.to_string(), QuantityParseErrorKind::OutOfRange)))
    }
}

impl<'de> Visitor<'de> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quantity: a string such as \"500m\" or \"1Gi\", or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
        // Kubernetes trims surrounding whitespace when decoding JSON.
        v.trim().parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
        Self::from_int(i128::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
        Self::from_int(i128::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Quantity, E> {
        Self::from_int(v)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Quantity, E> {
        match i128::try_from(v) {
            Ok(v) => Self::from_int(v),
            Err(_) => Err(E::custom(QuantityParseError::new(&v.to_string(), QuantityParseErrorKind::OutOfRange))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
        if !v.is_finite() {
            return Err(E::invalid_value(de::Unexpected::Float(v), &self));
        }
        // `Display` for f64 writes the shortest exact decimal, never an exponent.
        v.to_string().parse().map_err(E::custom)
    }

    /// `null` decodes to zero, as in Kubernetes.
    fn visit_unit<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::default())
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts a quantity string (surrounding whitespace is trimmed, as in
    /// Kubernetes), an integer, a float (`0.5` → `500m`) or `null` (zero).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::Quantity").into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_SCHEMA_PATTERN,
            "x-kubernetes-int-or-string": true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        match s.parse() {
            Ok(q) => q,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    const MAX_STR: &str = "170141183460469231731687303715.884105727";

    #[test]
    fn parse_valid() {
        use QuantityFormat::*;
        // input, nanos, format
        let cases: &[(&str, i128, QuantityFormat)] = &[
            ("0", 0, DecimalSI),
            ("5", 5_000_000_000, DecimalSI),
            ("0.5", 500_000_000, DecimalSI),
            (".5", 500_000_000, DecimalSI),
            ("1.", 1_000_000_000, DecimalSI),
            ("+1", 1_000_000_000, DecimalSI),
            ("-1", -1_000_000_000, DecimalSI),
            ("-0", 0, DecimalSI),
            ("007", 7_000_000_000, DecimalSI),
            ("1n", 1, DecimalSI),
            ("1u", 1_000, DecimalSI),
            ("1m", 1_000_000, DecimalSI),
            ("1k", 1_000_000_000_000, DecimalSI),
            ("1M", 10i128.pow(15), DecimalSI),
            ("1G", 10i128.pow(18), DecimalSI),
            ("1T", 10i128.pow(21), DecimalSI),
            ("1P", 10i128.pow(24), DecimalSI),
            ("1E", 10i128.pow(27), DecimalSI),
            ("1.G", 10i128.pow(18), DecimalSI),
            ("1Ki", 1024 * NANOS_PER_UNIT, BinarySI),
            ("1Mi", (1 << 20) * NANOS_PER_UNIT, BinarySI),
            ("1Gi", (1 << 30) * NANOS_PER_UNIT, BinarySI),
            ("1Ti", (1 << 40) * NANOS_PER_UNIT, BinarySI),
            ("1Pi", (1 << 50) * NANOS_PER_UNIT, BinarySI),
            ("1Ei", (1 << 60) * NANOS_PER_UNIT, BinarySI),
            ("0Ki", 0, BinarySI),
            ("1.5Ki", 1536 * NANOS_PER_UNIT, BinarySI),
            ("0.5Ki", 512 * NANOS_PER_UNIT, BinarySI),
            ("0.0001Ki", 102_400_000, DecimalSI),
            ("-0.0001Ki", -102_400_000, DecimalSI),
            ("1e3", 10i128.pow(12), DecimalExponent),
            ("1E3", 10i128.pow(12), DecimalExponent),
            ("1e+3", 10i128.pow(12), DecimalExponent),
            ("1e-3", 1_000_000, DecimalExponent),
            ("1.5e3", 1_500 * NANOS_PER_UNIT, DecimalExponent),
            ("1e0", NANOS_PER_UNIT, DecimalExponent),
            ("0.1m", 100_000, DecimalSI),
            ("0.0000000001", 1, DecimalSI),
            ("-0.0000000001", -1, DecimalSI),
            ("1.0000000001", 1_000_000_001, DecimalSI),
            ("0.1n", 1, DecimalSI),
            ("1e-100", 1, DecimalExponent),
            ("0e-100", 0, DecimalExponent),
            ("0e999999", 0, DecimalExponent),
            ("0.0000000000", 0, DecimalSI),
            ("1e29", 10i128.pow(38), DecimalExponent),
            (MAX_STR, MAX_NANOS, DecimalSI),
            ("-170141183460469231731687303715.884105727", -MAX_NANOS, DecimalSI),
            ("170141183460469231731687303715.8841057269", MAX_NANOS, DecimalSI),
            ("12.345", 12_345_000_000, DecimalSI),
        ];
        for &(input, nanos, format) in cases {
            let parsed = q(input);
            assert_eq!(parsed.nanos, nanos, "value of {input:?}");
            assert_eq!(parsed.format(), format, "format of {input:?}");
        }
    }

    #[test]
    fn parse_invalid() {
        use QuantityParseErrorKind::*;
        let cases: &[(&str, QuantityParseErrorKind)] = &[
            ("", InvalidFormat),
            (" ", InvalidFormat),
            (" 1", InvalidFormat),
            ("1 ", InvalidFormat),
            ("1 Ki", InvalidFormat),
            ("1.2.3", InvalidFormat),
            ("1Qi", InvalidFormat),
            ("Ki", InvalidFormat),
            (".", InvalidFormat),
            ("+", InvalidFormat),
            ("-", InvalidFormat),
            ("--1", InvalidFormat),
            ("+-1", InvalidFormat),
            ("abc", InvalidFormat),
            ("1,5", InvalidFormat),
            ("1_000", InvalidFormat),
            ("0x10", InvalidFormat),
            ("1e3k", InvalidFormat),
            ("1e1.5", InvalidFormat),
            ("NaN", InvalidFormat),
            ("1µ", InvalidFormat),
            ("1e", InvalidSuffix),
            ("1ee3", InvalidSuffix),
            ("1Ke3", InvalidSuffix),
            ("1mi", InvalidSuffix),
            ("1ki", InvalidSuffix),
            ("1KI", InvalidFormat),
            ("1i", InvalidSuffix),
            ("1e-", InvalidSuffix),
            ("1e99999999999999999999", InvalidSuffix),
            ("1e30", OutOfRange),
            ("1e40", OutOfRange),
            ("1e999999999", OutOfRange),
            ("170141183460469231731687303715.884105728", OutOfRange),
            ("1000000000000000000000000000000000000000000", OutOfRange),
            ("1000000000000Ei", OutOfRange),
        ];
        for &(input, kind) in cases {
            match input.parse::<Quantity>() {
                Ok(v) => panic!("{input:?} should not parse, got {v}"),
                Err(e) => {
                    assert_eq!(e.kind(), kind, "error kind for {input:?}: {e}");
                    assert_eq!(e.input(), input);
                }
            }
        }
    }

    #[test]
    fn error_messages() {
        let err = "1Qi".parse::<Quantity>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "invalid quantity \"1Qi\": quantities must match the regular expression \
                 '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            )
        );
        let long = "9".repeat(300);
        let err = long.parse::<Quantity>().err();
        assert!(err.as_ref().is_some_and(|e| e.input().len() < 140 && e.input().ends_with('…')));
        assert!(err.is_some_and(|e| e.to_string().contains("out of range")));
    }

    #[test]
    fn canonical_form() {
        let cases: &[(&str, &str)] = &[
            // zero
            ("0", "0"),
            ("-0", "0"),
            ("0.0", "0"),
            ("0Ki", "0"),
            ("0e3", "0"),
            ("000", "0"),
            // DecimalSI
            ("5", "5"),
            ("+1", "1"),
            ("-1", "-1"),
            ("007", "7"),
            ("1.", "1"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("-0.5", "-500m"),
            ("1500", "1500"),
            ("-1500", "-1500"),
            ("2000", "2k"),
            ("-2000", "-2k"),
            ("1.5", "1500m"),
            ("12.345", "12345m"),
            ("0.0000000001", "1n"),
            ("-0.0000000001", "-1n"),
            ("1.0000000001", "1000000001n"),
            ("0.1m", "100u"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("100m", "100m"),
            ("1000000n", "1m"),
            ("1u", "1u"),
            ("1k", "1k"),
            ("1.5k", "1500"),
            ("1.5M", "1500k"),
            ("10M", "10M"),
            ("1G", "1G"),
            ("1.G", "1G"),
            ("1T", "1T"),
            ("1P", "1P"),
            ("1E", "1E"),
            ("1000E", "1000E"),
            ("1024", "1024"),
            ("4096", "4096"),
            // DecimalExponent
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1e+3", "1e3"),
            ("1.5e3", "1500"),
            ("2e3", "2e3"),
            ("12e6", "12e6"),
            ("1e-3", "1e-3"),
            ("1.5e-3", "1500e-6"),
            ("1e0", "1"),
            ("10e-1", "1"),
            ("1e1", "10"),
            ("1e2", "100"),
            ("1e4", "10e3"),
            ("1e-10", "1e-9"),
            ("-1e-10", "-1e-9"),
            ("1e27", "1e27"),
            ("5e-1", "500e-3"),
            // BinarySI
            ("1Ki", "1Ki"),
            ("-1Ki", "-1Ki"),
            ("1023Ki", "1023Ki"),
            ("1000Ki", "1000Ki"),
            ("1024Ki", "1Mi"),
            ("1.5Ki", "1536"),
            ("-1.5Ki", "-1536"),
            ("0.5Ki", "512"),
            ("0.1Ki", "102400m"),
            ("1.1Ki", "1126400m"),
            ("0.0001Ki", "102400u"),
            ("1.5Mi", "1536Ki"),
            ("1.5Gi", "1536Mi"),
            ("1536Mi", "1536Mi"),
            ("1024Mi", "1Gi"),
            ("0.5Gi", "512Mi"),
            ("100Mi", "100Mi"),
            ("1Gi", "1Gi"),
            ("1Ti", "1Ti"),
            ("1Pi", "1Pi"),
            ("1Ei", "1Ei"),
            ("1024Ei", "1024Ei"),
            ("0.5Ei", "512Pi"),
            // extremes
            (MAX_STR, "170141183460469231731687303715884105727n"),
            ("1e29", "100e27"),
            ("100000000000E", "100000000000E"),
        ];
        assert!(cases.len() >= 40);
        for &(input, canonical) in cases {
            assert_eq!(q(input).to_string(), canonical, "canonical form of {input:?}");
        }
    }

    #[test]
    fn display_padding_and_debug() {
        assert_eq!(format!("{:>6}|", q("1Gi")), "   1Gi|");
        assert_eq!(format!("{:?}", q("1.5Gi")), "Quantity { value: 1536Mi, format: BinarySI }");
    }

    #[test]
    fn comparison() {
        use Ordering::*;
        let cases: &[(&str, &str, Ordering)] = &[
            ("1Ki", "1024", Equal),
            ("1", "1000m", Equal),
            ("500m", "0.5", Equal),
            ("1e3", "1k", Equal),
            ("0", "-0", Equal),
            ("0Ki", "0", Equal),
            ("0.0000000001", "1n", Equal),
            ("1.5Gi", "1536Mi", Equal),
            ("1Gi", "1G", Greater),
            ("1Ki", "1k", Greater),
            ("-1", "1", Less),
            ("1n", "0", Greater),
            ("-1n", "0", Less),
            ("999m", "1", Less),
            ("1E", "1Ei", Less),
            ("-1Gi", "-1G", Less),
        ];
        for &(a, b, ord) in cases {
            let (qa, qb) = (q(a), q(b));
            assert_eq!(qa.cmp(&qb), ord, "{a} vs {b}");
            assert_eq!(qb.cmp(&qa), ord.reverse(), "{b} vs {a}");
            assert_eq!(qa == qb, ord == Equal, "{a} == {b}");
            if ord == Equal {
                use std::collections::hash_map::DefaultHasher;
                let hash = |x: &Quantity| {
                    let mut h = DefaultHasher::new();
                    x.hash(&mut h);
                    h.finish()
                };
                assert_eq!(hash(&qa), hash(&qb), "hash {a} vs {b}");
            }
        }
    }

    #[test]
    fn arithmetic() {
        // a, b, a + b, a - b
        let cases: &[(&str, &str, &str, &str)] = &[
            ("1", "500m", "1500m", "500m"),
            ("100m", "1", "1100m", "-900m"),
            ("1Gi", "1Gi", "2Gi", "0"),
            ("1Gi", "512Mi", "1536Mi", "512Mi"),
            ("1k", "1Ki", "2024", "-24"),
            ("1Ki", "1k", "2024", "24"),
            ("1Ki", "1Ki", "2Ki", "0"),
            ("1e3", "1e3", "2e3", "0"),
            ("0", "1Gi", "1Gi", "-1Gi"),
            ("0Ki", "1500m", "1500m", "-1500m"),
            ("1n", "1n", "2n", "0"),
            ("-1", "-1", "-2", "0"),
            ("1E", "1E", "2E", "0"),
        ];
        for &(a, b, sum, diff) in cases {
            let (qa, qb) = (q(a), q(b));
            assert_eq!(qa.checked_add(&qb).map(|x| x.to_string()).as_deref(), Some(sum), "{a} + {b}");
            assert_eq!(qa.checked_sub(&qb).map(|x| x.to_string()).as_deref(), Some(diff), "{a} - {b}");
            assert_eq!((qa.clone() + qb.clone()).to_string(), sum);
            assert_eq!((&qa + &qb).to_string(), sum);
            assert_eq!((qa.clone() - &qb).to_string(), diff);
            let mut acc = qa.clone();
            acc += &qb;
            assert_eq!(acc.to_string(), sum);
            acc -= qb.clone();
            acc -= &qb;
            assert_eq!(acc.to_string(), diff);
            assert_eq!((-(qa.clone() - qb.clone())).to_string(), (&qb - &qa).to_string());
        }
        // Format of the result follows the left operand (unless it is zero).
        assert_eq!((q("1Gi") + q("1k")).format(), QuantityFormat::BinarySI);
        assert_eq!((q("1k") + q("1Gi")).format(), QuantityFormat::DecimalSI);
        assert_eq!((Quantity::default() + q("1Gi")).format(), QuantityFormat::BinarySI);
        assert_eq!((-q("1Gi")).format(), QuantityFormat::BinarySI);

        // Overflow.
        let max = q(MAX_STR);
        let min = -max.clone();
        assert!(max.checked_add(&q("1n")).is_none());
        assert!(min.checked_sub(&q("1n")).is_none());
        assert!(min.checked_add(&q("-1n")).is_none());
        assert!(max.checked_sub(&min).is_none());
        assert_eq!(max.clone() + q("1"), max);
        assert_eq!(min.clone() - q("1"), min);
        assert_eq!(min.clone() + min.clone(), min);
        assert_eq!(-min.clone(), max);
        assert_eq!(max.checked_add(&min), Some(Quantity::default()));
    }

    #[test]
    fn predicates() {
        assert!(Quantity::default().is_zero());
        assert!(!Quantity::default().is_negative());
        assert!(q("-1n").is_negative());
        assert!(!q("1n").is_negative());
        assert!(!q("1n").is_zero());
        assert_eq!(Quantity::default().format(), QuantityFormat::DecimalSI);
    }

    #[test]
    fn milli_and_value_rounding() {
        // input, milli_value, value
        let cases: &[(&str, i64, i64)] = &[
            ("0", 0, 0),
            ("1", 1000, 1),
            ("1500m", 1500, 2),
            ("1.1", 1100, 2),
            ("-1.5", -1500, -2),
            ("-1500m", -1500, -2),
            ("-1.1", -1100, -2),
            ("0.1m", 1, 1),
            ("-0.1m", -1, -1),
            ("1n", 1, 1),
            ("-1n", -1, -1),
            ("999m", 999, 1),
            ("1Ki", 1_024_000, 1024),
            ("1Gi", 1_073_741_824_000, 1_073_741_824),
            ("1E", i64::MAX, 1_000_000_000_000_000_000),
            ("-1E", i64::MIN, -1_000_000_000_000_000_000),
            ("1000E", i64::MAX, i64::MAX),
            ("-1000E", i64::MIN, i64::MIN),
            ("9223372036854775807", i64::MAX, i64::MAX),
            ("9223372036854775.807", i64::MAX, 9_223_372_036_854_776),
        ];
        for &(input, milli, value) in cases {
            let x = q(input);
            assert_eq!(x.milli_value(), milli, "milli_value of {input}");
            assert_eq!(x.value(), value, "value of {input}");
            assert_eq!(x.as_bytes(), value, "as_bytes of {input}");
        }
    }

    #[test]
    fn constructors_and_f64() {
        assert_eq!(Quantity::from_milli(500).to_string(), "500m");
        assert_eq!(Quantity::from_milli(-1500).to_string(), "-1500m");
        assert_eq!(Quantity::from_milli(3000).to_string(), "3");
        assert_eq!(Quantity::from_milli(0), Quantity::default());
        assert_eq!(Quantity::from_value(2000, QuantityFormat::DecimalSI).to_string(), "2k");
        assert_eq!(Quantity::from_value(2000, QuantityFormat::DecimalExponent).to_string(), "2e3");
        assert_eq!(Quantity::from_value(2048, QuantityFormat::BinarySI).to_string(), "2Ki");
        assert_eq!(Quantity::from_bytes(1 << 30).to_string(), "1Gi");
        assert_eq!(Quantity::from_bytes(1000).to_string(), "1k");
        assert_eq!(Quantity::from_bytes(1536).to_string(), "1536");
        assert_eq!(Quantity::from_bytes(i64::MIN).value(), i64::MIN);
        assert_eq!(Quantity::from_milli(i64::MAX).milli_value(), i64::MAX);
        assert_eq!(q("1.5").as_f64(), 1.5);
        assert_eq!(q("-250m").as_f64(), -0.25);
        assert_eq!(q("1Gi").as_f64(), 1_073_741_824.0);
        assert_eq!(q("1n").as_f64(), 1e-9);
        assert_eq!(Quantity::try_from("1Gi"), Ok(q("1024Mi")));
    }

    #[test]
    fn serde_strings() {
        for (input, canonical) in [
            ("1Gi", "1Gi"),
            ("500m", "500m"),
            ("0.5", "500m"),
            ("1.5Gi", "1536Mi"),
            ("1e3", "1e3"),
            ("-2000", "-2k"),
            ("0", "0"),
        ] {
            let json = format!("\"{input}\"");
            let parsed: Quantity = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(serde_json::to_string(&parsed).ok(), Some(format!("\"{canonical}\"")));
            let again: Quantity = serde_json::from_str(&format!("\"{canonical}\"")).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(again, parsed);
        }
        // Kubernetes trims whitespace inside JSON strings.
        let trimmed: Result<Quantity, _> = serde_json::from_str("\" 1Gi \"");
        assert_eq!(trimmed.ok(), Some(q("1Gi")));
    }

    #[test]
    fn serde_numbers() {
        for (json, canonical) in [
            ("1", "1"),
            ("0", "0"),
            ("-2", "-2"),
            ("2000", "2k"),
            ("0.5", "500m"),
            ("-0.25", "-250m"),
            ("1.5e3", "1500"),
            ("1e-10", "1n"),
            ("0.1", "100m"),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("null", "0"),
        ] {
            let parsed: Quantity = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(parsed.to_string(), canonical, "{json}");
        }
    }

    #[test]
    fn serde_errors() {
        let err = serde_json::from_str::<Quantity>("\"1Qi\"").err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("\"1Qi\"") && e.contains("quantities must match the regular expression")),
            "{err:?}"
        );
        for json in ["true", "[]", "{}", "\"\"", "1e300"] {
            let err = serde_json::from_str::<Quantity>(json).err();
            assert!(err.is_some(), "{json} should not deserialize");
        }
        let err = serde_json::from_str::<Quantity>("true").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("expected a quantity")));
    }

    #[test]
    fn resource_list_serde() {
        let json = r#"{"cpu":"0.5","memory":1073741824,"nvidia.com/gpu":1,"pods":"110"}"#;
        let list: ResourceList = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list["cpu"], q("500m"));
        assert_eq!(list["memory"], q("1Gi"));
        assert_eq!(
            serde_json::to_string(&list).ok().as_deref(),
            Some(r#"{"cpu":"500m","memory":"1073741824","nvidia.com/gpu":"1","pods":"110"}"#)
        );
    }

    #[test]
    fn json_schema() {
        let schema = schemars::schema_for!(Quantity);
        let value = serde_json::to_value(&schema).unwrap_or_default();
        assert_eq!(value["anyOf"], serde_json::json!([{"type": "integer"}, {"type": "string"}]));
        assert_eq!(value["x-kubernetes-int-or-string"], serde_json::json!(true));
        assert_eq!(value["pattern"], serde_json::json!(QUANTITY_SCHEMA_PATTERN));
        assert_eq!(value["title"], serde_json::json!("Quantity"));
        assert_eq!(<Quantity as JsonSchema>::schema_name(), "Quantity");
    }

    fn format_strategy() -> impl Strategy<Value = QuantityFormat> {
        prop_oneof![
            Just(QuantityFormat::DecimalSI),
            Just(QuantityFormat::BinarySI),
            Just(QuantityFormat::DecimalExponent),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn display_parse_round_trip(
            mantissa in any::<i64>(),
            scale in -12i32..=10,
            format in format_strategy(),
        ) {
            let parsed = q(&format!("{mantissa}e{scale}"));
            let original = Quantity::from_nanos(parsed.nanos, format);
            let text = original.to_string();
            let reparsed = q(&text);
            prop_assert_eq!(&reparsed, &original, "{} -> {}", original.nanos, text);
            // The canonical form is a fixed point, except that a BinarySI
            // value written without a binary suffix re-parses as DecimalSI
            // (`10000` → `10k`), exactly as in Kubernetes.
            if format != QuantityFormat::BinarySI {
                prop_assert_eq!(reparsed.to_string(), text);
            }
        }

        #[test]
        fn binary_round_trip(mantissa in any::<i32>(), power in 0usize..=6, frac in 0u32..1000) {
            let input = format!("{mantissa}.{frac:03}{}", BINARY_SUFFIXES[power]);
            let original = q(&input);
            let text = original.to_string();
            prop_assert_eq!(&q(&text), &original, "{} -> {}", input, text);
        }

        #[test]
        fn add_sub_inverse(a in any::<i64>(), b in any::<i64>(), sa in -9i32..=9, sb in -9i32..=9) {
            let qa = q(&format!("{a}e{sa}"));
            let qb = q(&format!("{b}e{sb}"));
            let sum = qa.checked_add(&qb);
            prop_assert!(sum.is_some());
            if let Some(sum) = sum {
                prop_assert_eq!(&(sum - &qb), &qa);
            }
            let diff = qa.checked_sub(&qb).map(|d| d.nanos.cmp(&0));
            prop_assert_eq!(Some(qa.cmp(&qb)), diff);
        }

        #[test]
        fn parse_never_panics(s in "[-+]?[0-9.]{0,45}[eEinumkKMGTP]{0,3}[-+]?[0-9]{0,4}") {
            let _ = s.parse::<Quantity>();
        }

        #[test]
        fn parse_arbitrary_never_panics(s in ".{0,40}") {
            let _ = s.parse::<Quantity>();
        }
    }
}
