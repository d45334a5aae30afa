"""Chinese tokens for search: the same segmenter for documents and queries.

jieba with a domain word list (``indexer/data/domain_words.txt``) keeps terms
such as 社区矫正 and 安置帮教 whole; documents are indexed with whole words and
their parts (``cut_for_search``) so that either form of a query matches.
Queries are read here too, operators included (:func:`parse_query`), once for
every store.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import jieba
import opencc

from indexer.targets import UNIT_PART  # the parser's unit words, so both read units alike

_DROP = re.compile(r"^[\s\W_]+$", re.UNICODE)  # punctuation and whitespace only
# Function words that carry no meaning in a query ("社区矫正的成本" ≡ "社区矫正 成本").
QUERY_STOPWORDS = frozenset(
    ["的", "了", "和", "与", "及", "或", "是", "在", "对", "为", "等", "中", "有"]
    + ["哪些", "什么", "多少", "如何", "怎么"]
)
_lock = threading.Lock()
CONTEXT_PREFIX = "ctx:"  # marks tokens from a passage's context (its project, its heading)
# A query word found only in a passage's context scores this share of its BM25: the
# passage is about something inside that context, not about the word itself.
CONTEXT_WEIGHT = 0.25
# Full-width digits, Latin letters and ％, which Chinese input methods often type:
# folded to ASCII on both sides, so ９０％ finds 90%.
_WIDTH = str.maketrans(
    {chr(c): chr(c - 0xFEE0) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B)]}
    | {chr(c): chr(c - 0xFEE0) for c in [*range(0xFF41, 0xFF5B), 0xFF05]}
)


# A number as written, kept whole ("8.3", "183.59"): jieba cuts at the point, and
# its parts would match any 8 and any 3. Not inside a code such as "GB2312" or "5G".
_NUMBER = r"(?<![A-Za-z\d])\d+(?:\.\d+)?(?![A-Za-z\d])"
# An amount with its scale: "92万", "92 万元", "1.2亿". 元 is looked at, not consumed.
_AMOUNT = rf"(?P<number>{_NUMBER})(?:\s*(?P<scale>[万亿])(?=(?P<yuan>元)?))?"
# A compound unit ("元/人/年", "元/人·年", "人.年"): its parts joined by / or a middle
# dot, the spellings the parser reads as one unit (indexer/targets.py).
_UNIT_SEPARATORS = "/·•・."
_UNIT = rf"(?P<unit>{UNIT_PART}(?:[{re.escape(_UNIT_SEPARATORS)}]{UNIT_PART})+)"
# 每 joins a unit's parts too, as the parser reads it (260元每人每月 is 元/人/月), but
# only right after a number or as the whole text (a query word "元每人每月"): in prose
# 每 is a word of its own (全年每月开展, 个人每年缴纳) and must not cut 全年 or 个人;
# after a year, 年 is the year's (2025年每月开展).
_PER = rf"{UNIT_PART}(?:每{UNIT_PART})+"
_PER_UNIT = rf"(?:(?<=\d)|(?<=\d[万亿])|(?<=\d\s)|^(?={_PER}$))(?!年)(?P<per>{_PER})"
_SPECIAL = re.compile(rf"{_AMOUNT}|{_UNIT}|{_PER_UNIT}")
# What a query says after a year ("2021年", "2021年度") is the year itself: the year
# matches every passage of that year (a context token), 年 would match any 年.
_YEAR = re.compile(r"(?:19|20)\d\d")
_YEAR_WORD = re.compile(r"\s*年度?")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def fold_width(text: str) -> str:
    """``text`` with full-width digits, Latin letters and ％ as ASCII."""
    return text.translate(_WIDTH)


@cache
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalize_query(query: str) -> str:
    """A query as the index spells it: ASCII digits and letters, simplified characters
    (the filings are simplified; 社區矯正 is 社区矫正)."""
    return _to_simplified().convert(fold_width(query or ""))


def number_token(number: str) -> str:
    """One spelling per number: "8.30" and "8.3" are both 8.3, "92.00" is 92."""
    return number.rstrip("0").rstrip(".") if "." in number else number


def unit_token(unit: str) -> str:
    """One spelling per compound unit: 元/人/年, 元/人·年, 元/人•年 and 元每人每年 are 元/人·年.

    每 is a slash and dots are the parser's middle dot (人.年 is 人·年); the first slash
    stays (元/人 is "per person"), later ones join like the dot, as the parser writes
    元/人·年.
    """
    unit = re.sub("[•・.]", "·", unit.replace("每", "/"))
    head, slash, rest = unit.partition("/")
    return head + slash + rest.replace("/", "·")


def _unit(match: re.Match) -> str | None:
    """The compound unit a special match is, however its parts are joined; else None."""
    return match["unit"] or match["per"]


def _pieces(text: str) -> list[tuple[re.Match | None, str]]:
    """``text`` cut into numbers, amounts and compound units (with their match) and
    the plain stretches between them (match None) that jieba segments."""
    out: list[tuple[re.Match | None, str]] = []
    cursor = 0
    for match in _SPECIAL.finditer(text):
        if match["unit"] and not _CJK.search(match["unit"]):
            continue  # Latin only ("TCP/IP"): no unit, jieba's tokens suffice
        if match.start() > cursor:
            out.append((None, text[cursor : match.start()]))
        out.append((match, match[0]))
        cursor = match.end()
    if cursor < len(text):
        out.append((None, text[cursor:]))
    return out


def _special_tokens(match: re.Match) -> list[str]:
    """The tokens a number, amount or unit is indexed with."""
    unit = _unit(match)
    if unit:
        return [unit_token(unit)]
    number = number_token(match["number"])
    if not match["scale"]:
        return [number]
    # 92万元: the number, the amount (so 92万 finds it), and 万元 as jieba gave it before
    tokens = [number, number + match["scale"]]
    return tokens + [match["scale"] + "元"] if match["yuan"] else tokens


@cache
def _segmenter() -> jieba.Tokenizer:
    with _lock:
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        words = resources.files("indexer").joinpath("data/domain_words.txt")
        with resources.as_file(words) as path:
            tokenizer.load_userdict(str(path))
        tokenizer.initialize()
        return tokenizer


def _keep(token: str) -> bool:
    return bool(token) and not _DROP.match(token)


def index_tokens(text: str) -> list[str]:
    """Tokens to index: whole words and every dictionary word inside them, lowercased.

    jieba's own ``cut_for_search`` adds only 2- and 3-character parts, so 社区矫正
    inside 社区矫正对象 would be lost; here every known sub-word is kept.
    """
    return [token for block, _ in _blocks(text) for token in block]


def _blocks(text: str) -> Iterator[tuple[list[str], bool]]:
    """The tokens :func:`index_tokens` gives ``text``, in runs: a number's, amount's or
    unit's tokens (flag False), or a word and then its dictionary parts (flag True).

    A word's parts follow from the word alone, so a phrase's runs stand in a
    passage's tokens exactly as the phrase's own (see :func:`phrase_tokens`).
    """
    segmenter = _segmenter()
    for match, piece in _pieces(fold_width(text or "")):
        if match is not None:
            yield _special_tokens(match), False
            if not _unit(match):
                continue
            # a unit's words stay searchable alone too (元, 人次)
        for word in segmenter.cut(piece, HMM=False):
            if not _keep(word):
                continue
            block = [word.lower()]
            for size in range(len(word) - 1, 1, -1):
                for start in range(len(word) - size + 1):
                    part = word[start : start + size]
                    if segmenter.FREQ.get(part):
                        block.append(part.lower())
            yield block, True


def phrase_tokens(text: str) -> tuple[str, ...]:
    """The tokens a passage has, next to each other and in this order, where it says
    ``text`` (its words as the segmenter reads them).

    Those are ``text``'s own index tokens, parts of words included, as a passage's
    are; the parts of its last word are left out, which changes no match of several
    words (they follow from the word) and lets a phrase of one word match it inside
    a longer one, as an unquoted word does (社区矫正 in 社区矫正对象).
    """
    blocks = list(_blocks(text))
    if blocks and blocks[-1][1]:
        blocks[-1] = (blocks[-1][0][:1], True)
    return tuple(token.lower() for block, _ in blocks for token in block)


def _query_tokens(term: str) -> list[str]:
    """The tokens of one whitespace-separated query word, each to be matched whole.

    Numbers, amounts and units as :func:`index_tokens` reads them; an amount is one
    token however its unit is written (92万, 92万元 and 92 万元 are all 92万); a year's
    年 / 年度 is dropped, since the year token stands for the passage's year.
    """
    tokens: list[str] = []
    pieces = _pieces(term)
    skip = None  # a pattern the next plain stretch starts with that belongs to the last
    for match, piece in pieces:
        if match is None:
            if skip is not None:
                piece = piece[len(m[0]) :] if (m := skip.match(piece)) else piece
            tokens += _segmenter().lcut(piece, HMM=False)
            skip = None
        elif _unit(match):
            tokens.append(unit_token(_unit(match)))
            skip = None
        elif match["scale"]:
            tokens.append(number_token(match["number"]) + match["scale"])
            skip = re.compile("元") if match["yuan"] else None
        else:
            tokens.append(number_token(match["number"]))
            skip = _YEAR_WORD if _YEAR.fullmatch(match["number"]) else None
    return tokens


@dataclass(frozen=True)
class Phrase:
    """Tokens that must stand next to each other, in this order, in a passage's tokens."""

    tokens: tuple[str, ...]


@dataclass(frozen=True)
class AllOf:
    """Every group must match: an OR's alternative of several words."""

    groups: tuple[Group, ...]


# One accepted form of a query word: a token, a phrase, or (in an OR) several words.
Form = str | Phrase | AllOf
# Alternatives: a group matches where any of its forms does.
Group = tuple[Form, ...]


@dataclass(frozen=True)
class ParsedQuery:
    """A query read with its operators (see :func:`parse_query`)."""

    groups: tuple[Group, ...]  # every one must match (the keyword side)
    required: tuple[Group, ...]  # those of quoted words: semantic hits must match them too
    exclude: tuple[Group, ...]  # a passage matching any of these is left out, in every mode
    text: str  # what the encoder reads: the query without exclusions and operators
    terms: tuple[str, ...]  # the words and phrases it looks for, as typed (quotes kept)
    highlights: tuple[str, ...]  # what to mark in a hit, longest first
    excluded: tuple[str, ...] = ()  # the words and phrases it excludes, without the "-"

    @property
    def binds_semantic(self) -> bool:
        """Whether semantic candidates are checked against the query's words."""
        return bool(self.required or self.exclude)


# Operators. A leading "-" excludes (only at the start of a whitespace-separated term, so
# 2021-2023 stays one term; a full-width or typographic minus or dash, as an input method
# types it, too); "…", “…” and 「…」 quote a phrase; OR (upper case) or |
# between two terms makes them alternatives. Anything unbalanced is read literally.
_OR = "OR"
_QUOTES = ("ascii", "curly", "corner")  # the groups of _SYNTAX that hold a phrase
_SYNTAX = re.compile(
    r"(?P<bar>[|｜])"
    r'|(?P<minus>(?<!\S)[-－−–—])?(?:"(?P<ascii>[^"]*)"|“(?P<curly>[^”]*)”|「(?P<corner>[^」]*)」'
    r'|(?P<word>[^\s"“「|｜]+|["“「]))'
)


@dataclass(frozen=True)
class _Term:
    text: str  # the word, or the phrase without its quotes
    phrase: bool
    typed: str  # as the query has it


def _words(text: str) -> list[str]:
    """The tokens a query word must match, lowercased, without function words."""
    tokens = (token.lower() for token in _query_tokens(text))
    return [t for t in tokens if _keep(t) and t not in QUERY_STOPWORDS]


def _term_groups(term: _Term) -> list[Group]:
    """The AND-groups one term stands for: a group per word, or one for a phrase.

    Each lists the forms that match: in the passage's own text, or in its context
    (``ctx:`` tokens).
    """
    if term.phrase:
        tokens = phrase_tokens(term.text)
        if len(tokens) > 1:
            return [(Phrase(tokens), Phrase(tuple(CONTEXT_PREFIX + t for t in tokens)))]
    else:
        tokens = tuple(_words(term.text))
    return [(token, CONTEXT_PREFIX + token) for token in dict.fromkeys(tokens)]


def _one_group(groups: list[Group]) -> Group:
    """Groups that must all match, as one group (its single form AllOf them if several)."""
    return groups[0] if len(groups) == 1 else (AllOf(tuple(groups)),)


@lru_cache(maxsize=1024)
def parse_query(query: str) -> ParsedQuery:
    """A query as groups that must all match, groups that exclude, and the encoder's text.

    Every term must match (AND); ``A OR B`` (or ``A | B``) makes two terms
    alternatives; ``-word`` leaves out the passages the word would find (in their
    text or context); a quoted phrase needs its words next to each other, in order.
    What cannot be read as an operator is read as words: an unbalanced quote is
    punctuation, an OR at either end or beside an exclusion is ignored, a lone
    ``-`` is nothing. A query without operators reads as it always did.
    """
    text = normalize_query(query)
    clauses: list[list[_Term]] = []  # the terms of a clause are OR'ed, clauses AND'ed
    excluded: list[_Term] = []
    unread: list[tuple[int, int]] = []  # spans the encoder does not read
    after_term = joining = False  # the last item was a term to look for; an OR followed it
    for match in _SYNTAX.finditer(text):
        if match["bar"] or (match["word"] == _OR and not match["minus"]):
            joining = after_term
            unread.append(match.span())
            continue
        phrase = next((match[q] for q in _QUOTES if match[q] is not None), None)
        term = _Term(match["word"] if phrase is None else phrase, phrase is not None, match[0])
        if match["minus"]:
            excluded.append(term)
            unread.append(match.span())
            after_term = joining = False
            continue
        if phrase is not None:  # the quotes themselves
            unread += [(match.start(), match.start() + 1), (match.end() - 1, match.end())]
        if joining:
            clauses[-1].append(term)
        else:
            clauses.append([term])
        after_term, joining = True, False
    groups: list[Group] = []
    required: list[Group] = []
    for clause in clauses:
        alternatives = [g for g in map(_term_groups, clause) if g]
        if len(alternatives) > 1:
            made = [tuple(dict.fromkeys(f for a in alternatives for f in _one_group(a)))]
        else:
            made = alternatives[0] if alternatives else []
        groups += [g for g in made if g not in groups]
        if any(term.phrase for term in clause):
            required += made
    exclude = [_one_group(g) for g in map(_term_groups, excluded) if g]
    if unread:
        kept = list(text)
        for start, end in unread:
            kept[start:end] = " " * (end - start)
        text = " ".join("".join(kept).split())
    looked_for = [term for clause in clauses for term in clause if _term_groups(term)]
    marked = {w for term in looked_for for w in _words(term.text)}
    marked -= {w for term in excluded for w in _words(term.text)}
    return ParsedQuery(
        groups=tuple(groups),
        required=tuple(dict.fromkeys(required)),
        exclude=tuple(dict.fromkeys(exclude)),
        text=text,
        terms=tuple(dict.fromkeys(term.typed for term in looked_for)),
        highlights=tuple(sorted(marked, key=lambda w: (-len(w), w))),
        excluded=tuple(dict.fromkeys(term.text for term in excluded)),
    )


def query_groups(query: str) -> list[list[Form]]:
    """The groups of :func:`parse_query`, as lists: every one must match."""
    return [list(group) for group in parse_query(query).groups]


def highlight_terms(query: str) -> list[str]:
    """The strings to mark in a hit: the query's words (not those it excludes), longest first."""
    return list(parse_query(query).highlights)


def term_pattern(term: str) -> str:
    """A regular expression finding ``term`` (a query token) in a passage's text.

    A number never matches inside another (0 in 160, 8.3 in 18.35) and matches its
    other spellings (8.30); an amount matches "92万", "92万元" and "92 万元"; a compound
    unit matches all its separators (元/人/年, 元/人·年 and 元每人每年).
    """
    amount = re.fullmatch(r"(\d+(?:\.\d+)?)([万亿])?", term)
    if amount:
        number = re.escape(amount[1]) + (r"0*" if "." in amount[1] else r"(?:\.0+)?")
        scale = rf"\s*{amount[2]}元?" if amount[2] else ""
        return rf"(?<![\d.]){number}(?!\.?\d){scale}"
    if "/" in term and _CJK.search(term):
        separator = f"[{re.escape(_UNIT_SEPARATORS)}每]"
        return separator.join(re.escape(p) for p in re.split("[/·]", term))
    return re.escape(term)


def group_forms(group: Group) -> list[Form]:
    """A group's forms as the stores match them: tokens lowercased, a phrase of one
    token that token, repeats and empty ones left out."""
    forms: list[Form] = []
    for form in group:
        if isinstance(form, str):
            form = form.strip().lower()
        elif isinstance(form, Phrase):
            tokens = tuple(token.lower() for token in form.tokens)
            form = Phrase(tokens) if len(tokens) > 1 else "".join(tokens)
        if form and form not in forms:
            forms.append(form)
    return forms


def token_weight(token: str) -> float:
    """The boost a store gives a query token: CONTEXT_WEIGHT for context tokens, else 1."""
    return CONTEXT_WEIGHT if token.startswith(CONTEXT_PREFIX) else 1.0
