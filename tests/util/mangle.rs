//! How the property tests mangle a byte stream on its way to the capture: cut into segments,
//! with overlapping copies (retransmissions re-cut differently), reordered.

/// The `(start, end)` ranges of a stream of `len` bytes in capture order: cut at `cuts`
/// (each taken modulo `len + 1`), plus a copy of `(start, length)` for each of `duplicates`,
/// then ordered by `order`'s keys (a stable sort: ranges without a key stay, in order, last).
pub fn pieces(
    len: usize,
    cuts: &[usize],
    order: &[u32],
    duplicates: &[(usize, usize)],
) -> Vec<(usize, usize)> {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    bounds.extend([0, len]);
    bounds.sort_unstable();
    bounds.dedup();
    let mut pieces: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    for &(start, n) in duplicates {
        let start = start % len.max(1);
        pieces.push((start, (start + n).min(len)));
    }
    let mut keyed: Vec<(u32, (usize, usize))> = pieces
        .into_iter()
        .enumerate()
        .map(|(i, p)| (order.get(i).copied().unwrap_or(u32::MAX), p))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, p)| p).collect()
}
