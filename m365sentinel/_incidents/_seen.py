"""The pass's record of delivered changes: incident id -> the newest change delivered, in a few bytes a change.

A pass of 100,000 changes holds them all (order-free dedupe, issue 10), so the record is kept as data, not as Python
objects: an append-only log of packed changes in fixed 64 KiB chunks (written in place, never reallocated) and an
open-addressing index of 8-byte slots (``array``). A change of a GUID id with a quoted-GUID etag takes 41 bytes in
the log and 8 to 24 in the index, where a dict of ints took about 150 and left the allocator fragmented (issue 17:
memory flat over a pass).

Log record: ``flags`` (1 byte), lastModified as microseconds since 0001-01-01 UTC (8 bytes, big-endian), the id,
then the etag. An id or etag in canonical form (lowercase dashed GUID text; quoted, for an etag) is held as its 16
bytes, anything else as a 4-byte length and its UTF-8 (surrogates passed through: JSON can carry lone ones), a
missing etag as nothing. Every form gives back exactly the text it was given.

A record's offset is ``chunk << 22 | position``: records never straddle chunks, and one larger than a chunk gets a
chunk of its own (up to 4 MiB). Overwriting an id appends a record and repoints its slot, so the log keeps every
change in delivery order and the map as of an earlier moment (a snapshot's checkpoint, built later) is the log's
prefix replayed (``as_of``).
"""

from __future__ import annotations

import binascii
import re
import struct
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from .._errors import SerializationError

__all__ = ["Change", "SeenMap"]

Change = tuple[datetime, str | None]

_DAY1 = datetime(1, 1, 1, tzinfo=UTC)
_HEAD = struct.Struct(">BQ")  # flags, microseconds
_GUIDS = struct.Struct(">BQ32s")  # a record whose id and etag are both GUIDs (nearly every ARM incident)
_LEN = struct.Struct(">I")
_TEXT_ID, _TEXT_ETAG, _NO_ETAG = 1, 2, 4  # flags; neither text bit: the 16 bytes of a GUID

_CHUNK = 1 << 16
_AT_BITS = 22  # a position in a chunk; a record is at most 4 MiB
_AT_MASK = (1 << _AT_BITS) - 1
# An index slot: 0 when free, else (tag << 40) | (offset + 1), the tag the low 24 bits of the id's hash: it spares a
# record comparison on nearly every probe and gives the home slot when the index grows (up to 2**24 slots).
_OFFSET_BITS = 40
_OFFSET_MASK = (1 << _OFFSET_BITS) - 1
_MAX_CHUNKS = (1 << (_OFFSET_BITS - _AT_BITS)) - 1  # so that offset + 1 fits its 40 bits: 16 GiB of log
_TAG_MASK = (1 << (64 - _OFFSET_BITS)) - 1


_GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # canonical: lowercase, dashed
_GUID_ID = re.compile(_GUID)
_GUID_ETAG = re.compile(f'"{_GUID}"')
_GUID_BOTH = re.compile(f'{_GUID}"{_GUID}"')  # an id and its etag, concatenated: one match for both


def _guid_bytes(text: str) -> bytes:
    """The bytes of the hex digits in ``text`` (a match of the patterns above)."""
    return binascii.unhexlify(text.encode("ascii").translate(None, b'-"'))


def _guids(incident_id: str, etag: str | None) -> bytes | None:
    """The 32 bytes of a canonical GUID id and quoted-GUID etag; else None."""
    if etag is None or len(incident_id) != 36 or len(etag) != 38:
        return None
    both = incident_id + etag
    return _guid_bytes(both) if _GUID_BOTH.fullmatch(both) else None


def _guid_text(value: bytes | bytearray) -> str:
    h = value.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _text(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    return _LEN.pack(len(data)) + data


def _id_part(incident_id: str) -> tuple[int, bytes]:
    """(flags, bytes) of an id as the log holds it."""
    if len(incident_id) == 36 and _GUID_ID.fullmatch(incident_id):
        return 0, _guid_bytes(incident_id)
    return _TEXT_ID, _text(incident_id)


def _etag_part(etag: str | None) -> tuple[int, bytes]:
    if etag is None:
        return _NO_ETAG, b""
    if len(etag) == 38 and _GUID_ETAG.fullmatch(etag):
        return 0, _guid_bytes(etag)
    return _TEXT_ETAG, _text(etag)


def _micros(modified: datetime) -> int:
    """Microseconds since 0001-01-01 UTC (what ``// timedelta(microseconds=1)`` gives, cheaper; inline in ``put``)."""
    d = modified - _DAY1
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


class SeenMap:
    """Incident id -> the newest change delivered (``get``/``put``), with the past states snapshots need
    (``mark``/``as_of``). Module docstring: the layout."""

    __slots__ = ("_chunks", "_count", "_ends", "_index", "_last", "_newest", "_tops", "_used")

    def __init__(self, changes: tuple[tuple[str, datetime, str | None], ...] = ()) -> None:
        self._chunks = [bytearray(_CHUNK)]
        self._ends: list[int] = []  # where the records of each full chunk end
        self._used = 0  # bytes written in the last chunk
        self._tops: list[int] = []  # the newest lastModified (microseconds) in each full chunk
        self._newest = -1  # and in the last chunk: ``items(since)`` skips chunks older than ``since`` unread
        self._index = array("Q", bytes(8 * 1024))
        self._count = 0
        # The id looked up last, its slot and record offset (-1: absent): a delivery's get, then its put.
        self._last: tuple[str | None, int, int] = (None, 0, -1)
        for change in changes:
            self.put(*change)

    def __len__(self) -> int:
        return self._count

    def mark(self) -> int:
        """Where the log ends now: ``as_of`` gives the map as of this mark."""
        return (len(self._chunks) - 1) << _AT_BITS | self._used

    # --- lookups -------------------------------------------------------------------------------------------------
    def _find(self, incident_id: str) -> tuple[int, int]:
        """(slot, offset): the id's index slot and its newest record's offset; when absent, the free slot where it
        goes and -1."""
        last = self._last
        if last[0] is incident_id:  # the same string object: the same text
            return last[1], last[2]
        h = hash(incident_id)
        index = self._index
        mask = len(index) - 1
        slot, tag = h & mask, h & _TAG_MASK
        part: bytes | None = None
        while value := index[slot]:
            if value >> _OFFSET_BITS == tag:
                offset = (value & _OFFSET_MASK) - 1
                if part is None:
                    flags, part = _id_part(incident_id)
                chunk, at = self._chunks[offset >> _AT_BITS], offset & _AT_MASK
                if chunk[at] & _TEXT_ID == flags and chunk[at + _HEAD.size : at + _HEAD.size + len(part)] == part:
                    self._last = (incident_id, slot, offset)
                    return slot, offset
            slot = (slot + 1) & mask
        self._last = (incident_id, slot, -1)
        return slot, -1

    def get(self, incident_id: str) -> Change | None:
        offset = self._find(incident_id)[1]
        if offset < 0:
            return None
        _, modified, etag = self._change(offset)
        return modified, etag

    def put(self, incident_id: str, modified: datetime, etag: str | None) -> None:
        slot, old = self._find(incident_id)
        d = modified - _DAY1  # _micros, inline: once per delivery
        us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
        if us > self._newest:
            self._newest = us
        both = _guids(incident_id, etag)
        chunk, at = self._chunks[-1], self._used
        if both is not None and at + _GUIDS.size <= len(chunk):  # nearly every ARM incident
            _GUIDS.pack_into(chunk, at, 0, us, both)
            self._used = at + _GUIDS.size
        else:
            chunk, at = self._append(incident_id, us, etag, both)
        offset = (len(self._chunks) - 1) << _AT_BITS | at
        index = self._index
        index[slot] = (hash(incident_id) & _TAG_MASK) << _OFFSET_BITS | (offset + 1)
        self._last = (incident_id, slot, offset)
        if old < 0:
            self._count += 1
            if 3 * self._count > 2 * len(index):
                self._grow()

    def _append(self, incident_id: str, us: int, etag: str | None, both: bytes | None) -> tuple[bytearray, int]:
        """Write a record at the log's end, in a new chunk when the last one is full: (chunk, position)."""
        if both is not None:
            record = _GUIDS.pack(0, us, both)
        else:
            id_flags, id_part = _id_part(incident_id)
            etag_flags, etag_part = _etag_part(etag)
            record = _HEAD.pack(id_flags | etag_flags, us) + id_part + etag_part
        chunk, at = self._chunks[-1], self._used
        if at + len(record) > len(chunk):
            if len(record) > _AT_MASK:
                raise SerializationError(f"an incident id or etag of {len(record):,} bytes: at most 4 MiB")
            if len(self._chunks) >= _MAX_CHUNKS:
                raise SerializationError(f"the record of delivered changes is full ({_MAX_CHUNKS:,} chunks)")
            self._ends.append(at)
            self._tops.append(self._newest)
            self._newest = us
            chunk, at = bytearray(max(_CHUNK, len(record))), 0
            self._chunks.append(chunk)
        chunk[at : at + len(record)] = record
        self._used = at + len(record)
        return chunk, at

    # --- records -------------------------------------------------------------------------------------------------
    def _change(self, offset: int) -> tuple[str, datetime, str | None]:
        """The record at ``offset``: (id, lastModified, etag)."""
        chunk, at = self._chunks[offset >> _AT_BITS], offset & _AT_MASK
        flags, us = _HEAD.unpack_from(chunk, at)
        incident_id, at = _read(chunk, at + _HEAD.size, flags & _TEXT_ID)
        etag: str | None = None
        if not flags & _NO_ETAG:
            etag, at = _read(chunk, at, flags & _TEXT_ETAG)
            if not flags & _TEXT_ETAG:
                etag = f'"{etag}"'
        return incident_id, _DAY1 + timedelta(microseconds=us), etag

    def _offsets(self, mark: int, low: int = -1) -> Iterator[tuple[bytearray, int, int]]:
        """(chunk, position, offset) of every record before ``mark``, in delivery order; chunks whose changes are
        all older than ``low`` microseconds are skipped."""
        ends, tops = [*self._ends, self._used], [*self._tops, self._newest]
        for number in range(min(mark >> _AT_BITS, len(self._chunks) - 1) + 1):
            if tops[number] < low:
                continue
            chunk, at = self._chunks[number], 0
            end = ends[number] if number < mark >> _AT_BITS else min(ends[number], mark & _AT_MASK)
            while at < end:
                yield chunk, at, number << _AT_BITS | at
                at = _end(chunk, at)

    def _grow(self) -> None:
        """The index at twice its size. The tags give the home slots while it has at most 2**24 slots; past that,
        each id is read back and hashed again."""
        old = self._index
        index = array("Q", bytes(16 * len(old)))
        mask = len(index) - 1
        rehash = mask > _TAG_MASK
        for value in old:
            if value:
                home = hash(self._change((value & _OFFSET_MASK) - 1)[0]) if rehash else value >> _OFFSET_BITS
                slot = home & mask
                while index[slot]:
                    slot = (slot + 1) & mask
                index[slot] = value
        self._index = index
        self._last = (None, 0, -1)

    # --- views ---------------------------------------------------------------------------------------------------
    def as_of(self, mark: int) -> tuple[tuple[str, datetime, str | None], ...]:
        """The entries as they were when the log ended at ``mark`` (each id at its first delivery's place)."""
        view: dict[str, Change] = {}
        for _, _, offset in self._offsets(mark):
            incident_id, modified, etag = self._change(offset)
            view[incident_id] = (modified, etag)
        return tuple((i, t, e) for i, (t, e) in view.items())

    def items(self, since: datetime | None = None) -> Iterator[tuple[str, datetime, str | None]]:
        """The entries now (those at or after ``since``), in the order of their newest change. Only the chunks and
        records with changes at or after ``since`` are read (a pass's end keeps its overlap window: a few)."""
        low = -1 if since is None else _micros(since)
        for chunk, at, offset in self._offsets(self.mark(), low):
            if _HEAD.unpack_from(chunk, at)[1] < low:
                continue
            incident_id, modified, etag = self._change(offset)
            if self._find(incident_id)[1] == offset:  # not overwritten since
                yield incident_id, modified, etag


def _read(chunk: bytearray, at: int, text: int) -> tuple[str, int]:
    """A GUID or a text part at ``at``, and the position after it."""
    if not text:
        return _guid_text(chunk[at : at + 16]), at + 16
    (size,) = _LEN.unpack_from(chunk, at)
    at += _LEN.size
    return chunk[at : at + size].decode("utf-8", "surrogatepass"), at + size


def _end(chunk: bytearray, at: int) -> int:
    """The position after the record at ``at``, read from its flags and lengths alone."""
    flags, at = chunk[at], at + _HEAD.size
    at += 16 if not flags & _TEXT_ID else _LEN.size + _LEN.unpack_from(chunk, at)[0]
    if not flags & _NO_ETAG:
        at += 16 if not flags & _TEXT_ETAG else _LEN.size + _LEN.unpack_from(chunk, at)[0]
    return at
