//! Static bearer tokens from a CSV file (kube-apiserver's
//! `--token-auth-file`): one line per token, `token,user,uid[,"group1,group2"]`.
//!
//! Tokens are kept as SHA-256 digests, so the table holds no secret and a
//! lookup's timing says nothing about how much of a guess was right.

use std::collections::HashMap;
use std::path::Path;

use k_store::api::UserInfo;
use sha2::{Digest, Sha256};

use super::{Authenticator, Outcome, bearer_token};

/// The users of a token file; see the [module docs](self).
#[derive(Clone, Default)]
pub struct TokenFile {
    users: HashMap<[u8; 32], UserInfo>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFile").field("tokens", &self.users.len()).finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenFile {
    /// Reads a token file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a token file's text. Lines with fewer than three columns are
    /// an error (naming the line); blank lines and lines starting with `#`
    /// are skipped; a later line with the same token replaces an earlier one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let mut users = HashMap::new();
        for (index, record) in reader.records().enumerate() {
            let record = record.map_err(|e| format!("record {}: {e}", index + 1))?;
            if record.len() == 1 && record[0].is_empty() {
                continue;
            }
            if record.len() < 3 {
                let line = record.position().map_or(index as u64 + 1, csv::Position::line);
                return Err(format!("line {line}: a token line needs at least 3 columns (token,user,uid)"));
            }
            if record[0].is_empty() {
                continue;
            }
            // `"g1,g2"` is one quoted field; after a space the csv crate
            // reads the quote as text, so the rest of the line is rejoined.
            let rest: Vec<&str> = record.iter().skip(3).collect();
            let groups = rest
                .join(",")
                .trim_matches('"')
                .split(',')
                .map(|g| g.trim().trim_matches('"').trim())
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .chain([super::AUTHENTICATED.to_owned()])
                .collect();
            let user =
                UserInfo { username: record[1].to_owned(), uid: record[2].to_owned(), groups, ..UserInfo::default() };
            users.insert(digest(&record[0]), user);
        }
        Ok(Self { users })
    }

    /// How many tokens the file holds.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file holds no token.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn lookup(&self, token: &str) -> Outcome {
        match self.users.get(&digest(token)) {
            Some(user) => Outcome::Authenticated(user.clone()),
            None => Outcome::NotMine,
        }
    }
}

#[async_trait::async_trait]
impl Authenticator for TokenFile {
    async fn authenticate(&self, request: &http::request::Parts) -> Outcome {
        match bearer_token(request) {
            Some(token) => self.lookup(token),
            None => Outcome::NotMine,
        }
    }

    async fn authenticate_token(&self, token: &str, audiences: &[String]) -> (Outcome, Vec<String>) {
        // Static tokens are valid for any audience.
        (self.lookup(token), audiences.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_users_groups_and_comments() {
        let file =
            TokenFile::parse("# users\nt1,alice,1001\n\n t2 , bob , 1002 , \"dev,ops\"\nt3,carol,1003,solo\n").unwrap();
        assert_eq!(file.len(), 3);
        let Outcome::Authenticated(bob) = file.lookup("t2") else { panic!("t2 is bob's") };
        assert_eq!((bob.username.as_str(), bob.uid.as_str()), ("bob", "1002"));
        assert_eq!(bob.groups, ["dev", "ops", "system:authenticated"]);
        let Outcome::Authenticated(carol) = file.lookup("t3") else { panic!("t3 is carol's") };
        assert_eq!(carol.groups, ["solo", "system:authenticated"]);
        assert_eq!(file.lookup("t4"), Outcome::NotMine);
    }

    #[test]
    fn short_lines_are_errors() {
        let error = TokenFile::parse("t1,alice,1\nt2,bob\n").unwrap_err();
        assert!(error.contains("line 2") && error.contains("3 columns"), "{error}");
    }
}
