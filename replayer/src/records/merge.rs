//! Many record files, one timeline: the files one `--input-file` names (a glob, or the same
//! flag's several matches) are read side by side and their records handed on in timestamp
//! order, as GoReplay merges them.
//!
//! Records are sorted within a window of `--input-file-read-depth` records per file (GoReplay's
//! default, 100): enough to put right the small disorder a recorder's threads leave, without
//! holding a file in memory. A disorder wider than the window is not sorted, and never stalls
//! the replay either (`capture::pace`).

use super::reader::{RecordError, RecordReader};
use super::Record;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Read;

/// One file being read, with the name its errors carry.
pub struct File {
    /// The path, as it will appear in messages.
    pub name: String,
    /// Its records.
    pub reader: RecordReader<Box<dyn Read + Send>>,
}

/// A record waiting in the window, ordered by timestamp, then by the order read.
struct Waiting {
    timestamp_ns: u64,
    order: u64,
    file: usize,
    record: Record,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Waiting {}
impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}
impl Waiting {
    fn key(&self) -> (u64, u64) {
        (self.timestamp_ns, self.order)
    }
}

/// The merged records of some files.
pub struct Merge {
    files: Vec<File>,
    /// Whether each file still has records to give.
    open: Vec<bool>,
    window: BinaryHeap<Reverse<Waiting>>,
    order: u64,
    /// The first damage met, with its file's name; the other files go on.
    error: Option<(String, RecordError)>,
}

impl Merge {
    /// Starts reading `files`, `depth` records ahead in each (at least 1).
    pub fn new(files: Vec<File>, depth: usize) -> Merge {
        let mut merge = Merge {
            open: vec![true; files.len()],
            files,
            window: BinaryHeap::new(),
            order: 0,
            error: None,
        };
        for file in 0..merge.files.len() {
            for _ in 0..depth.max(1) {
                merge.read_one(file);
            }
        }
        merge
    }

    /// The next record in timestamp order; `None` once every file is done (or damaged).
    pub fn next_record(&mut self) -> Option<Record> {
        let Reverse(next) = self.window.pop()?;
        self.read_one(next.file);
        Some(next.record)
    }

    /// The first damage met (file name and error), once [`Merge::next_record`] returned
    /// `None`: every record before it has been handed on.
    pub fn take_error(&mut self) -> Option<(String, RecordError)> {
        self.error.take()
    }

    /// Records read from every file so far.
    pub fn records_read(&self) -> u64 {
        self.files.iter().map(|f| f.reader.count()).sum()
    }

    fn read_one(&mut self, file: usize) {
        if !self.open[file] {
            return;
        }
        match self.files[file].reader.next() {
            Ok(Some(record)) => {
                self.order += 1;
                self.window.push(Reverse(Waiting {
                    timestamp_ns: record.timestamp_ns,
                    order: self.order,
                    file,
                    record,
                }));
            }
            Ok(None) => self.open[file] = false,
            Err(e) => {
                self.open[file] = false;
                if self.error.is_none() {
                    self.error = Some((self.files[file].name.clone(), e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Kind;

    fn file(name: &str, stamps: &[u64]) -> File {
        let mut bytes = Vec::new();
        for (i, ts) in stamps.iter().enumerate() {
            let record = Record {
                kind: Kind::Request,
                id: format!("{name}{i}").into(),
                timestamp_ns: *ts,
                latency_ns: 0,
                payload: "GET / HTTP/1.1\r\n\r\n".into(),
            };
            record.write_to(&mut bytes).unwrap();
        }
        File {
            name: name.into(),
            reader: RecordReader::new(Box::new(std::io::Cursor::new(bytes))),
        }
    }

    fn ids(mut merge: Merge) -> Vec<String> {
        std::iter::from_fn(|| merge.next_record())
            .map(|r| String::from_utf8(r.id.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn files_are_merged_by_timestamp() {
        let merge = Merge::new(vec![file("a", &[1, 4, 5]), file("b", &[2, 3, 6])], 1);
        assert_eq!(ids(merge), ["a0", "b0", "b1", "a1", "a2", "b2"]);
    }

    #[test]
    fn disorder_within_the_depth_is_sorted_and_beyond_it_kept() {
        let stamps = [10, 30, 20, 40, 5];
        // A window of two: 20 overtakes 30, 5 overtakes 40 but not what left before it.
        assert_eq!(
            ids(Merge::new(vec![file("a", &stamps)], 2)),
            ["a0", "a2", "a1", "a4", "a3"]
        );
        assert_eq!(
            ids(Merge::new(vec![file("a", &stamps)], 100)),
            ["a4", "a0", "a2", "a1", "a3"]
        );
    }

    #[test]
    fn damage_in_one_file_stops_it_alone_and_is_kept() {
        let mut damaged = Vec::new();
        Record {
            kind: Kind::Request,
            id: "d0".into(),
            timestamp_ns: 1,
            latency_ns: 0,
            payload: "GET / HTTP/1.1\r\n\r\n".into(),
        }
        .write_to(&mut damaged)
        .unwrap();
        damaged.extend_from_slice(b"junk\n");
        let damaged = File {
            name: "d.gor".into(),
            reader: RecordReader::new(Box::new(std::io::Cursor::new(damaged))),
        };
        let mut merge = Merge::new(vec![damaged, file("b", &[2, 3])], 1);
        let got: Vec<_> = std::iter::from_fn(|| merge.next_record()).collect();
        assert_eq!(got.len(), 3);
        let (name, error) = merge.take_error().unwrap();
        assert_eq!(name, "d.gor");
        assert!(
            error.to_string().starts_with("record 2 at byte 41: "),
            "{error}"
        );
    }
}
