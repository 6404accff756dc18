"""The SSE decoder against the WHATWG event-stream rules, fed whole and in pieces."""

from __future__ import annotations

import itertools
import random

import pytest

from streaming.protocol.sse import Frame, SSEDecoder
from tests import corpus


def decode(*chunks: bytes) -> list[Frame]:
    decoder = SSEDecoder()
    frames = [frame for chunk in chunks for frame in decoder.feed(chunk)]
    return frames + decoder.close()


def split_at(body: bytes, *points: int) -> list[bytes]:
    bounds = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


def test_it_dispatches_a_frame_at_a_blank_line():
    """A frame is delivered once its blank line arrives, not before."""
    decoder = SSEDecoder()
    assert decoder.feed(b"event: ping\ndata: 1\n") == []
    assert decoder.feed(b"\n") == [Frame(data="1", event="ping")]


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_it_accepts_every_line_ending(eol):
    """LF, CR and CRLF all end a line."""
    body = b"event: a" + eol + b"data: x" + eol + eol + b"data: y" + eol + eol
    assert decode(body) == [Frame(data="x", event="a"), Frame(data="y")]


def test_it_treats_a_mix_of_line_endings_line_by_line():
    """CR, CRLF and LF may be mixed in one stream; CR CR LF is two line ends."""
    body = b"data: a\r\rdata: b\r\r\ndata: c\n\r\n"
    assert decode(body) == [Frame(data="a"), Frame(data="b"), Frame(data="c")]


def test_it_joins_a_crlf_split_between_chunks():
    """A CR ending one chunk and the LF starting the next are one line end, not two."""
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [Frame(data="a\nb")]


def test_it_remembers_a_trailing_cr_across_an_empty_chunk():
    """An empty chunk between the CR and the LF of a CRLF does not make it two line ends."""
    assert decode(b"data: a\r", b"", b"\ndata: b\r\n\r\n") == [Frame(data="a\nb")]


def test_it_ends_a_line_at_a_lone_cr_at_the_end_of_a_chunk():
    """A CR at the end of a chunk followed by other text is a complete line end."""
    assert decode(b"data: a\r", b"\r", b"data: b\n\n") == [Frame(data="a"), Frame(data="b")]


def test_it_joins_multi_line_data():
    """Several data lines in one frame are joined with a line feed."""
    assert decode(b"data: one\ndata: two\ndata:\ndata: four\n\n") == [
        Frame(data="one\ntwo\n\nfour")
    ]


def test_it_counts_and_ignores_comments():
    """Lines starting with a colon are comments: counted, never part of a frame."""
    decoder = SSEDecoder()
    frames = decoder.feed(b": keep-alive\n\n:\ndata: x\n: inside\n\n")
    assert frames == [Frame(data="x")]
    assert decoder.comments == 3


def test_it_takes_the_event_type_from_the_last_event_line():
    """The last `event:` line of a frame names it, and the name does not carry over."""
    assert decode(b"event: a\nevent: b\ndata: 1\n\ndata: 2\n\n") == [
        Frame(data="1", event="b"),
        Frame(data="2"),
    ]


def test_it_keeps_the_last_event_id_across_frames():
    """An `id` persists into later frames until another one replaces it."""
    body = b"id: 7\ndata: a\n\ndata: b\n\nid: 8\ndata: c\n\nid\ndata: d\n\n"
    assert [frame.id for frame in decode(body)] == ["7", "7", "8", ""]


def test_it_ignores_an_id_containing_nul():
    """An `id` value containing NUL is ignored and the previous id is kept."""
    assert decode(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")[1].id == "1"


def test_it_keeps_an_id_seen_in_a_frame_with_no_data():
    """An `id` in a frame that is not dispatched still becomes the last event id."""
    assert decode(b"id: 5\n\ndata: a\n\n") == [Frame(data="a", id="5")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [(b"retry: 3000", 3000), (b"retry: 30s", None), (b"retry: -1", None), (b"retry:", None)],
)
def test_it_accepts_only_digits_as_retry(line, expected):
    """`retry` is set only by a value made of ASCII digits."""
    assert decode(line + b"\ndata: x\n\n")[0].retry == expected


def test_it_keeps_the_retry_across_frames():
    """An invalid `retry` leaves the previous valid one in place."""
    frames = decode(b"retry: 10\ndata: a\n\nretry: x\ndata: b\n\n")
    assert [frame.retry for frame in frames] == [10, 10]


def test_it_strips_a_leading_bom():
    """A byte-order mark at the very start of the stream is dropped."""
    assert decode(b"\xef\xbb\xbfdata: x\n\n") == [Frame(data="x")]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_it_strips_a_bom_split_across_chunks(cut):
    """A byte-order mark split over the first chunks is still recognised as one."""
    body = b"\xef\xbb\xbfdata: x\n\n"
    assert decode(body[:cut], body[cut:]) == [Frame(data="x")]


def test_it_strips_a_bom_arriving_one_byte_at_a_time():
    """A byte-order mark fed byte by byte, after an empty chunk, is still dropped."""
    body = b"\xef\xbb\xbfdata: x\n\n"
    assert decode(b"", *(body[i : i + 1] for i in range(len(body)))) == [Frame(data="x")]


def test_it_strips_only_the_first_bom():
    """A byte-order mark after the start is data, not a marker."""
    assert decode(b"\xef\xbb\xbfdata: \xef\xbb\xbfx\n\n") == [Frame(data="\ufeffx")]


@pytest.mark.parametrize("prefix", [b"\xef", b"\xef\xbb"])
def test_it_keeps_bytes_that_only_begin_like_a_bom(prefix):
    """A held-back partial BOM that turns out not to be one stays part of the first line."""
    assert decode(prefix, b"data: x\n\ndata: y\n\n") == [Frame(data="y")]


def test_it_reads_a_field_without_a_colon_as_an_empty_value():
    """A line with no colon is a field name with an empty value."""
    assert decode(b"data\ndata\n\nevent\ndata: x\n\n") == [Frame(data="\n"), Frame(data="x")]


def test_it_strips_one_space_after_the_colon_only():
    """Only the first space after the colon is removed from the value."""
    assert decode(b"event:  two\ndata:  x \ndata:y\n\n") == [Frame(data=" x \ny", event=" two")]


def test_it_ignores_unknown_fields():
    """Fields other than data, event, id and retry are ignored."""
    assert decode(b"foo: bar\ndata: x\n DATA: y\n\n") == [Frame(data="x")]


def test_it_does_not_dispatch_a_frame_without_data():
    """A frame with no data line dispatches nothing, and its event name is forgotten."""
    assert decode(b"event: a\n\nid: 1\n\n\n\ndata: x\n\n") == [Frame(data="x", id="1")]


def test_it_dispatches_an_empty_data_line():
    """`data:` with nothing after it is a frame whose data is empty."""
    assert decode(b"data:\n\n") == [Frame(data="")]


def test_it_delivers_a_last_frame_missing_its_blank_line_on_close():
    """close() delivers a frame whose lines all ended but whose blank line never came."""
    decoder = SSEDecoder()
    assert decoder.feed(b"event: done\ndata: 1\n") == []
    assert decoder.close() == [Frame(data="1", event="done")]


def test_it_discards_a_half_line_on_close():
    """close() drops a line that never ended, and the frame it belonged to if it had no other."""
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\ndata: b\ndata: half")
    assert decoder.close() == [Frame(data="b")]
    other = SSEDecoder()
    other.feed(b"data: half")
    assert other.close() == []


def test_it_decodes_invalid_utf8_with_replacement_characters():
    """Bytes that are not UTF-8 become U+FFFD instead of raising."""
    assert decode(b"data: \xff!\n\n") == [Frame(data="\ufffd!")]


SMALL = "\ufeffid: é1\r\nevent: café\r\ndata: 😀 naïve\rdata: 日本\n\n: ping\r\ndata: ✓\r\n\r\n".encode()
SMALL_FRAMES = [
    Frame(data="😀 naïve\n日本", event="café", id="é1"),
    Frame(data="✓", id="é1"),
]


def test_the_small_stream_decodes_as_expected_in_one_piece():
    """The stream used for the split tests decodes to its known frames."""
    assert decode(SMALL) == SMALL_FRAMES


def test_every_single_split_point_gives_the_same_frames():
    """Cutting the stream once, at any byte (mid-UTF-8, mid-CRLF, mid-BOM), changes nothing."""
    for point in range(len(SMALL) + 1):
        assert decode(*split_at(SMALL, point)) == SMALL_FRAMES, point


def test_every_pair_of_split_points_gives_the_same_frames():
    """Cutting the stream twice, at any two bytes, changes nothing."""
    for a, b in itertools.combinations(range(1, len(SMALL)), 2):
        assert decode(*split_at(SMALL, a, b)) == SMALL_FRAMES, (a, b)


def test_byte_by_byte_feeding_gives_the_same_frames():
    """Feeding one byte at a time changes nothing."""
    assert decode(*(SMALL[i : i + 1] for i in range(len(SMALL)))) == SMALL_FRAMES


@pytest.mark.parametrize("seed", range(20))
def test_seeded_random_chunking_gives_the_same_frames(seed):
    """Cutting at seeded random offsets, with empty chunks mixed in, changes nothing."""
    chunks = corpus.random_chunks(SMALL, seed, max_size=7)
    chunks = [piece for chunk in chunks for piece in (chunk, b"")]
    assert decode(*chunks) == SMALL_FRAMES


@pytest.mark.parametrize("name", corpus.file_names())
def test_corpus_files_decode_the_same_when_rechunked(name):
    """Every corpus file yields the same frames (and comments) whole and re-chunked at random."""
    body = corpus.read_bytes(name)
    whole = SSEDecoder()
    expected = whole.feed(body) + whole.close()
    assert len(expected) == corpus.entry(name)["num_events"]
    for seed in range(4):
        decoder = SSEDecoder()
        got = []
        for chunk in corpus.random_chunks(body, seed, max_size=97):
            got.extend(decoder.feed(chunk))
        got.extend(decoder.close())
        assert got == expected, seed
        assert decoder.comments == whole.comments


FIELD_PIECES = [
    b"data:", b"data: ", b"data", b"event:", b"event: x", b"event", b"id: 1", b"id:\x00",
    b"retry: 12", b"retry: x", b":c", b"foo", b"\n", b"\r\n", b"\r", b"\n\n", b"\xef\xbb\xbf",
    b'{"a":1}', b"\xc3\xa9", b"\xff", b" ",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_feed_data_gives_exactly_the_data_of_each_frame_feed_gives(seed):
    """On random streams of every field (odd line endings, BOMs, bad UTF-8), cut at random,
    the data-only path the relay reads with agrees with the full frames, frame for frame."""
    rng = random.Random(seed)
    for _ in range(2000):
        body = b"".join(rng.choice(FIELD_PIECES) for _ in range(rng.randint(0, 30)))
        chunks = corpus.random_chunks(body, rng.randrange(1 << 30), max_size=9)
        frames, datas = SSEDecoder(), SSEDecoder()
        whole = [f.data for chunk in chunks for f in frames.feed(chunk)]
        whole += [f.data for f in frames.close()]
        only = [data for chunk in chunks for data in datas.feed_data(chunk)]
        only += datas.close_data()
        assert only == whole, body
        assert (datas.comments, datas._event, datas._last_id) == (
            frames.comments,
            frames._event,
            frames._last_id,
        ), body
