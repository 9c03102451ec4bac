//! The deduplication keys of one inbox file, kept in memory by its writer.
//!
//! The keys are hashes or UUIDs, in no order: a unique index on them made every append write
//! a random page of the index, so a batch of 30 appends wrote some 30 index pages (120 KiB)
//! to the log for 12 KiB of deliveries, and every sync had to carry them. The table has no
//! index on the key; the writer looks keys up here instead (a 128-bit fingerprint and the
//! time the delivery arrived, 40-odd bytes a key).
//!
//! Other connections may append to the same file (another process): every write transaction
//! first asks SQLite whether another connection committed since (`PRAGMA data_version`), and
//! reads the rows appended since the last one it knows. That needs `seq` to only grow, even
//! when the newest rows are deleted: the writers number the rows themselves, after the
//! highest `seq` ever written, which each batch that appends records in `meta` (`last_seq`).
//! That is what `AUTOINCREMENT` did, once a batch instead of once a row. The transaction
//! holds the write lock from its start, so nothing can be appended between that read and the
//! lookups.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension as _, params};
use sha2::{Digest as _, Sha256};

/// The keys of one file.
#[derive(Debug, Default)]
pub(super) struct Keys {
    /// Fingerprint of each key → when its delivery arrived (unix ms).
    seen: HashMap<u128, i64, foldhash::fast::RandomState>,
    /// The highest `seq` read, written, or recorded in `meta` (`last_seq`).
    max_seq: i64,
    /// `PRAGMA data_version` when the rows were last read.
    data_version: i64,
    /// Fingerprints added by the open transaction (taken back if it fails).
    added: Vec<u128>,
    /// `max_seq` when the open transaction began, after it read what other connections
    /// appended: what a failed transaction goes back to.
    max_seq_before: i64,
}

/// A key's fingerprint: the first 128 bits of its SHA-256 (a false duplicate would lose a
/// delivery, so not a 64-bit hash, which birthday collisions reach at a few billion keys).
fn fingerprint(key: &str) -> u128 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0_u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

impl Keys {
    /// Reads every key of the file.
    pub(super) fn load(conn: &Connection) -> rusqlite::Result<Keys> {
        let mut keys = Keys {
            data_version: data_version(conn)?,
            ..Keys::default()
        };
        keys.read_since(conn, 0)?;
        Ok(keys)
    }

    /// The `seq` of the next row appended (rows are numbered after every `seq` ever written).
    pub(super) fn next_seq(&mut self) -> i64 {
        self.max_seq += 1;
        self.max_seq
    }

    /// Before the commit: records the highest `seq` written, when this transaction appended.
    pub(super) fn commit(&self, tx: &Connection) -> rusqlite::Result<()> {
        if self.max_seq > self.max_seq_before {
            tx.prepare_cached(
                "INSERT INTO meta (name, value) VALUES ('last_seq', ?1) \
                 ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value)",
            )?
            .execute(params![self.max_seq])?;
        }
        Ok(())
    }

    /// At the start of a write transaction: reads the keys other connections appended since
    /// the last transaction.
    pub(super) fn begin(&mut self, tx: &Connection) -> rusqlite::Result<()> {
        self.added.clear();
        let version = data_version(tx)?;
        if version != self.data_version {
            self.read_since(tx, self.max_seq)?;
            self.data_version = version;
        }
        // After the catch-up: other connections' rows are committed, so a rollback of this
        // transaction must not number rows below them again (the next transaction sees the
        // same `data_version` and would not read them a second time).
        self.max_seq_before = self.max_seq;
        Ok(())
    }

    fn read_since(&mut self, conn: &Connection, seq: i64) -> rusqlite::Result<()> {
        let recorded: Option<i64> = conn
            .prepare_cached("SELECT value FROM meta WHERE name = 'last_seq'")?
            .query_row([], |row| row.get(0))
            .optional()?;
        self.max_seq = self.max_seq.max(recorded.unwrap_or(0));
        let mut statement =
            conn.prepare_cached("SELECT seq, key, received_at FROM deliveries WHERE seq > ?1")?;
        let mut rows = statement.query(params![seq])?;
        while let Some(row) = rows.next()? {
            let (seq, key, at): (i64, String, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            self.seen.insert(fingerprint(&key), at);
            self.max_seq = self.max_seq.max(seq);
        }
        Ok(())
    }

    /// Records `key` unless it is known: `true` when it was new (then insert its row with
    /// [`Keys::next_seq`]).
    pub(super) fn insert(&mut self, key: &str, received_at: i64) -> bool {
        let print = fingerprint(key);
        if self.seen.contains_key(&print) {
            return false;
        }
        self.seen.insert(print, received_at);
        self.added.push(print);
        true
    }

    /// The transaction failed: forgets what it added.
    pub(super) fn rollback(&mut self) {
        for print in self.added.drain(..) {
            self.seen.remove(&print);
        }
        self.max_seq = self.max_seq_before;
    }

    /// Inside the write transaction that deleted the finished deliveries that arrived before
    /// `cutoff`: forgets every key older than that except those of rows still kept (pending
    /// deliveries and dead letters keep their key for as long as they exist).
    pub(super) fn purge(&mut self, tx: &Connection, cutoff: i64) -> rusqlite::Result<()> {
        self.seen.retain(|_, at| *at >= cutoff);
        // Each half reads one partial index (`state = 0`, `state = 2`).
        let mut statement = tx.prepare_cached(
            "SELECT key, received_at FROM deliveries WHERE state = 0 AND received_at < ?1 \
             UNION ALL \
             SELECT key, received_at FROM deliveries WHERE state = 2 AND received_at < ?1",
        )?;
        let mut rows = statement.query(params![cutoff])?;
        while let Some(row) = rows.next()? {
            let (key, at): (String, i64) = (row.get(0)?, row.get(1)?);
            self.seen.insert(fingerprint(&key), at);
        }
        Ok(())
    }

    /// How many keys are known.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.seen.len()
    }
}

/// Changes whenever another connection commits to the database.
fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA data_version")?
        .query_row([], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        table_on(Connection::open_in_memory().unwrap())
    }

    fn table_at(path: &std::path::Path) -> Connection {
        table_on(Connection::open(path).unwrap())
    }

    fn table_on(conn: Connection) -> Connection {
        conn.execute_batch(
            "CREATE TABLE deliveries (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, \
             received_at INTEGER NOT NULL, state INTEGER NOT NULL); \
             CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn a_key_is_new_once_and_a_failed_transaction_forgets_it() {
        let conn = table();
        let mut keys = Keys::load(&conn).unwrap();
        keys.begin(&conn).unwrap();
        assert!(keys.insert("sha256:aa", 1));
        assert!(
            !keys.insert("sha256:aa", 2),
            "the same key twice in one batch"
        );
        keys.rollback();
        keys.begin(&conn).unwrap();
        assert!(
            keys.insert("sha256:aa", 3),
            "nothing of a failed batch is stored"
        );
    }

    /// One writer's batch appending `key`, as the writer runs it.
    fn append(conn: &Connection, keys: &mut Keys, key: &str) -> i64 {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        keys.begin(conn).unwrap();
        assert!(keys.insert(key, 1), "{key} is new");
        let seq = keys.next_seq();
        conn.execute(
            "INSERT INTO deliveries (seq, key, received_at, state) VALUES (?1, ?2, 1, 0)",
            params![seq, key],
        )
        .unwrap();
        keys.commit(conn).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        seq
    }

    /// Two connections to one new file, each with its writer's keys.
    fn two_writers(path: &std::path::Path) -> (Connection, Keys, Connection, Keys) {
        let (one, other) = (table_at(path), Connection::open(path).unwrap());
        let (keys, others) = (Keys::load(&one).unwrap(), Keys::load(&other).unwrap());
        (one, keys, other, others)
    }

    #[test]
    fn rows_are_numbered_after_every_seq_ever_written_so_other_writers_see_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let (one, mut keys, other, mut others) = two_writers(&path);
        assert_eq!(append(&one, &mut keys, "a"), 1);
        assert_eq!(append(&other, &mut others, "b"), 2, "after the other's row");
        // The newest rows are deleted (dead letters a user removed, say). A writer that
        // opens the file now still numbers after them, and the writers that knew them read
        // its row.
        one.execute("DELETE FROM deliveries", []).unwrap();
        let third = Connection::open(&path).unwrap();
        let mut thirds = Keys::load(&third).unwrap();
        assert_eq!(append(&third, &mut thirds, "c"), 3, "a number used again");
        assert_eq!(append(&one, &mut keys, "d"), 4);
        assert_eq!(append(&other, &mut others, "e"), 5);
        assert!(!keys.insert("c", 2), "the first writer read c");
        assert!(!others.insert("c", 2), "the other writer read c");
        one.execute("DELETE FROM deliveries", []).unwrap();
        let reopened = Keys::load(&Connection::open(&path).unwrap()).unwrap();
        assert_eq!(
            reopened.max_seq, 5,
            "the highest seq survives without its row"
        );
    }

    #[test]
    fn a_failed_batch_after_reading_another_writers_rows_numbers_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let (one, mut keys, other, mut others) = two_writers(&path);
        assert_eq!(append(&one, &mut keys, "a"), 1);
        assert_eq!(append(&other, &mut others, "b"), 2);
        // The first writer's next batch reads the other's row, then fails.
        one.execute_batch("BEGIN IMMEDIATE").unwrap();
        keys.begin(&one).unwrap();
        assert!(keys.insert("c", 1));
        assert_eq!(keys.next_seq(), 3);
        one.execute_batch("ROLLBACK").unwrap();
        keys.rollback();
        // Nobody committed since: the next batch does not read again, and must not reuse 2.
        assert_eq!(append(&one, &mut keys, "c"), 3, "a seq of the other's row");
        assert!(!keys.insert("b", 1), "the other's key is still known");
    }

    #[test]
    fn the_purge_keeps_keys_of_rows_still_pending_or_dead() {
        let conn = table();
        conn.execute_batch(
            "INSERT INTO deliveries (key, received_at, state) VALUES \
             ('pending', 1, 0), ('finished', 1, 1), ('dead', 1, 2), ('recent', 100, 1)",
        )
        .unwrap();
        let mut keys = Keys::load(&conn).unwrap();
        assert_eq!(keys.len(), 4);
        conn.execute(
            "DELETE FROM deliveries WHERE state = 1 AND received_at < 50",
            [],
        )
        .unwrap();
        keys.purge(&conn, 50).unwrap();
        assert_eq!(keys.len(), 3);
        for kept in ["pending", "dead", "recent"] {
            assert!(!keys.insert(kept, 200), "{kept} must still be a duplicate");
        }
        assert!(keys.insert("finished", 200), "a purged key is new again");
    }
}
