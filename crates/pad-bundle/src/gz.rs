//! A gzip writer that compresses blocks in parallel (pigz's scheme) and whose output
//! depends only on its input and options, never on the number of threads.
//!
//! The input is cut into blocks. Each block is compressed on its own as raw deflate,
//! primed with the 32 KiB of input before it as a dictionary, and ended with a sync
//! flush (the last block with a final flush). Sync-flushed deflate streams concatenate
//! into one valid stream, so the blocks become one gzip member whose CRC-32 is combined
//! from the blocks' CRCs. Blocks are compressed a batch at a time, so memory stays at a
//! few blocks per thread however large the input.

use std::io::{self, Write};
use std::mem;

use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;

/// The deflate window: how far back a block's matches may reach into earlier input.
const WINDOW: usize = 32 * 1024;

/// The gzip member header: no file name, modification time 0, no extra flags, OS
/// "unknown" (255), so the same input gives the same bytes on any machine and day.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// How a [`ParallelGzWriter`] compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzOptions {
    /// Deflate level, 0 (stored) to 9 (smallest).
    pub level: u32,
    /// Bytes of input per independently compressed block. Part of the output's
    /// identity: the same input gives the same bytes only with the same block size.
    pub block_size: usize,
}

impl GzOptions {
    /// Default deflate level, the same as `gzip`'s.
    pub const DEFAULT_LEVEL: u32 = 6;
    /// Default block size, 1 MiB: large enough that the per-block flush costs
    /// nothing measurable, small enough to spread work over threads.
    pub const DEFAULT_BLOCK_SIZE: usize = 1024 * 1024;
}

impl Default for GzOptions {
    fn default() -> Self {
        GzOptions { level: Self::DEFAULT_LEVEL, block_size: Self::DEFAULT_BLOCK_SIZE }
    }
}

/// A block of input waiting to be compressed.
struct Block {
    data: Vec<u8>,
    /// Up to 32 KiB of input just before `data`.
    dictionary: Vec<u8>,
    level: u32,
    last: bool,
}

/// A compressed block and the checksum of its input.
struct Compressed {
    deflate: Vec<u8>,
    crc: crc32fast::Hasher,
}

/// Writes one deterministic gzip member, compressing blocks of the input in parallel on
/// the current rayon pool.
///
/// [`finish`](Self::finish) must be called to write the last block and the trailer;
/// a writer dropped without it leaves an incomplete stream. [`flush`](Write::flush)
/// passes on only what is already compressed and does not end a block, so the output
/// does not depend on when callers flush.
pub struct ParallelGzWriter<W: Write> {
    inner: W,
    block_size: usize,
    /// Level of the block being filled.
    level: u32,
    /// The block being filled.
    current: Vec<u8>,
    /// The last 32 KiB of input before `current`.
    window: Vec<u8>,
    /// Full blocks not compressed yet.
    pending: Vec<Block>,
    /// How many blocks are compressed together.
    batch: usize,
    crc: crc32fast::Hasher,
    header_written: bool,
    total_in: u64,
    total_out: u64,
}

impl<W: Write> ParallelGzWriter<W> {
    /// A writer onto `inner`; fails when the level is above 9 or the block size is 0.
    pub fn new(inner: W, options: GzOptions) -> io::Result<Self> {
        check_level(options.level)?;
        if options.block_size == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the gzip block size must not be 0"));
        }
        Ok(ParallelGzWriter {
            inner,
            block_size: options.block_size,
            level: options.level,
            current: Vec::new(),
            window: Vec::new(),
            pending: Vec::new(),
            batch: 2 * rayon::current_num_threads().max(1),
            crc: crc32fast::Hasher::new(),
            header_written: false,
            total_in: 0,
            total_out: 0,
        })
    }

    /// Compresses what follows at `level`. The block being filled is ended first, so
    /// the new level covers exactly the bytes written after this call. Level 0 stores
    /// data, for input already compressed (a nested `.tar.gz`), at 5 bytes per 64 KiB.
    pub fn set_level(&mut self, level: u32) -> io::Result<()> {
        check_level(level)?;
        if level != self.level {
            if !self.current.is_empty() {
                self.end_block()?;
            }
            self.level = level;
        }
        Ok(())
    }

    /// The level of the bytes written next.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// Bytes of input taken so far.
    pub fn total_in(&self) -> u64 {
        self.total_in
    }

    /// Bytes of gzip data passed to the inner writer so far.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Compresses what is left, writes the trailer and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let data = mem::take(&mut self.current);
        let dictionary = self.window.clone();
        self.pending.push(Block { data, dictionary, level: self.level, last: true });
        self.compress_pending()?;
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.clone().finalize().to_le_bytes());
        // ISIZE is the input length modulo 2^32, as RFC 1952 defines it.
        trailer[4..].copy_from_slice(&(self.total_in as u32).to_le_bytes());
        self.write_out(&trailer)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Moves the block being filled to the pending batch, compressing the batch when full.
    fn end_block(&mut self) -> io::Result<()> {
        let data = mem::replace(&mut self.current, Vec::with_capacity(self.block_size));
        let dictionary = self.window.clone();
        slide_window(&mut self.window, &data);
        self.pending.push(Block { data, dictionary, level: self.level, last: false });
        if self.pending.len() >= self.batch {
            self.compress_pending()?;
        }
        Ok(())
    }

    fn compress_pending(&mut self) -> io::Result<()> {
        let blocks = mem::take(&mut self.pending);
        let compressed: Vec<Compressed> = blocks.par_iter().map(compress_block).collect::<io::Result<_>>()?;
        for block in compressed {
            self.crc.combine(&block.crc);
            self.write_out(&block.deflate)?;
        }
        Ok(())
    }

    fn write_out(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.header_written {
            self.inner.write_all(&GZIP_HEADER)?;
            self.total_out += GZIP_HEADER.len() as u64;
            self.header_written = true;
        }
        self.inner.write_all(bytes)?;
        self.total_out += bytes.len() as u64;
        Ok(())
    }
}

impl<W: Write> Write for ParallelGzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // A full block is ended only once more input arrives, so the input's last
        // block is always the one `finish` compresses with the final flush.
        if self.current.len() >= self.block_size {
            self.end_block()?;
        }
        if self.current.capacity() == 0 {
            self.current.reserve_exact(self.block_size);
        }
        let n = buf.len().min(self.block_size - self.current.len());
        self.current.extend_from_slice(&buf[..n]);
        self.total_in += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn check_level(level: u32) -> io::Result<()> {
    if level > 9 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("gzip level {level} is not in 0..=9")));
    }
    Ok(())
}

/// Keeps the last 32 KiB of `window` followed by `data` in `window`.
fn slide_window(window: &mut Vec<u8>, data: &[u8]) {
    if data.len() >= WINDOW {
        window.clear();
        window.extend_from_slice(&data[data.len() - WINDOW..]);
    } else {
        let keep = WINDOW - data.len();
        if window.len() > keep {
            window.drain(..window.len() - keep);
        }
        window.extend_from_slice(data);
    }
}

/// Compresses one block as raw deflate: sync-flushed so the next block's stream can
/// follow it, or finished when it is the last.
fn compress_block(block: &Block) -> io::Result<Compressed> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&block.data);

    let mut compress = Compress::new(Compression::new(block.level), false);
    if !block.dictionary.is_empty() {
        compress.set_dictionary(&block.dictionary).map_err(io::Error::other)?;
    }
    let flush = if block.last { FlushCompress::Finish } else { FlushCompress::Sync };
    // Room for stored blocks (5 bytes per 64 KiB) and the flush markers, so one call
    // nearly always suffices.
    let mut deflate = Vec::with_capacity(block.data.len() + block.data.len() / 1024 + 64);
    loop {
        let consumed = compress.total_in() as usize;
        let status = compress.compress_vec(&block.data[consumed..], &mut deflate, flush).map_err(io::Error::other)?;
        let done = if block.last {
            status == Status::StreamEnd
        } else {
            // A sync flush is complete once all input is taken and the output did
            // not fill up (zlib's "avail_out != 0").
            compress.total_in() as usize == block.data.len() && deflate.len() < deflate.capacity()
        };
        if done {
            return Ok(Compressed { deflate, crc });
        }
        deflate.reserve(deflate.capacity().max(4096));
    }
}
