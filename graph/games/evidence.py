"""Which of our teams a Kalshi outcome is, judged by the evidence the listing carries (pure).

How it works. Kalshi's team codes are its own, undocumented, and change between seasons, so a
code is only a prior. Each team is an :class:`Identity`: the names a listing may call it by and
the codes it may go by.

- Names, normalised (case and punctuation folded): location ("Vegas"), nickname, both, the
  location followed by the nickname's initials as Kalshi shortens a shared city ("Los Angeles
  R", "New York G", "Chicago WS"), the same for other names of the place in the table ("Los
  Angeles" for ESPN's "LA" Clippers), the ESPN abbreviation.
- Codes, in order of trust: the code learned from this season's listings, the table's Kalshi
  code, the ESPN abbreviation.

An outcome (one market of an event) resolves to a *set* of team keys (:meth:`Resolver.resolve`):
its ``yes_sub_title`` (or the name in a "Vegas wins" title) against the names; one hit decides;
several hits are narrowed by the most trusted code that agrees with one of them; no name hit
leaves the code to decide. A set of two or more is not a decision: pairing with the scoreboard's
game decides (see :mod:`graph.games.matching`), or nothing does.

Teams our tables do not list (many college programmes) still get an identity from the
scoreboard: its abbreviation, and the leading words of its display name as names ("Miami (OH)
RedHawks" answers to "Miami (OH)").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from graph.models import TeamRef
from graph.teams import Team

_WORD = re.compile(r"[a-z0-9]+")
_WINS = re.compile(r"(.+?)\s+wins\??", re.IGNORECASE)


def normalize(text: str) -> str:
    """Lower case, punctuation folded to single spaces: ``"Miami (OH)"`` -> ``"miami oh"``."""
    return " ".join(_WORD.findall(text.casefold()))


def _initials(nickname: str) -> str:
    return "".join(word[0] for word in nickname.split())


@dataclass(frozen=True, slots=True)
class Identity:
    """One team as a listing may name it."""

    key: str  # our team key (the ESPN abbreviation)
    names: frozenset[str]  # normalised
    learned: str | None  # Kalshi code learned this season
    kalshi: str | None  # the table's Kalshi code
    espn: str


def team_identity(team: Team, learned: str | None = None) -> Identity:
    """A table team's identity, with the code learned for it this season."""
    nick = team.nickname
    raw = {nick, team.name, team.espn}
    for place in (team.location, *team.places):
        raw |= {place, f"{place} {nick}", f"{place} {nick[:1]}", f"{place} {_initials(nick)}"}
    names = frozenset(n for n in map(normalize, raw) if n)
    return Identity(team.key, names, learned, team.kalshi, team.espn)


def scoreboard_identity(ref: TeamRef, learned: str | None = None) -> Identity:
    """The identity of a team our tables do not list, from what the scoreboard says."""
    words = normalize(ref.name).split()
    names = {" ".join(words[:n]) for n in range(1, len(words) + 1)}
    names.add(normalize(ref.code))
    return Identity(ref.code, frozenset(n for n in names if n), learned, None, ref.code)


def title_name(title: str) -> str:
    """The team a "<name> wins" title names, else ``""``."""
    found = _WINS.fullmatch(title.strip())
    return found[1] if found else ""


class Resolver:
    """Outcome evidence -> candidate team keys, for one league's identities."""

    def __init__(self, identities: Iterable[Identity]) -> None:
        self._names: dict[str, set[str]] = defaultdict(set)
        # One index per trust tier: learned codes, table codes, ESPN abbreviations.
        self._tiers: tuple[dict[str, set[str]], ...] = (
            defaultdict(set),
            defaultdict(set),
            defaultdict(set),
        )
        for identity in identities:
            for name in identity.names:
                self._names[name].add(identity.key)
            codes = (identity.learned, identity.kalshi, identity.espn)
            for tier, code in zip(self._tiers, codes, strict=True):
                if code:
                    tier[code].add(identity.key)

    def by_name(self, text: str) -> frozenset[str]:
        """Teams answering to ``text`` (a sub-title or a name)."""
        return frozenset(self._names.get(normalize(text), ()))

    def resolve(self, code: str, sub_title: str, title: str = "") -> frozenset[str]:
        """The teams an outcome may be (see the module docstring)."""
        named = self.by_name(sub_title or title_name(title))
        if len(named) == 1:
            return named
        for tier in self._tiers:
            coded = tier.get(code)
            if not coded:
                continue
            if not named:
                return frozenset(coded)
            agreed = named & coded
            if agreed:
                return agreed
        return named
