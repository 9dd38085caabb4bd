"""Per-league team tables and exact-code lookups for ESPN, Kalshi and 538.

How it works: each league has one table of ``(espn, espn_id, location, nickname)`` rows, plus
explicit override tables for the providers whose code differs from ESPN's. Everything else is
derived once at import into dicts keyed by exact code; lookups never use substrings, prefixes or
case folding, because short codes collide across leagues and providers (``WSH``, ``LA``, ``NY``).

Our canonical team key is the ESPN abbreviation.

Code choices (sports-data.md §1.5; Kalshi codes are reported, not specified by Kalshi):

- NFL: Kalshi differs from ESPN only at ``WSH->WAS``, ``JAX->JAC``, ``LAR->LA``. 538 uses ESPN's
  codes except ``OAK`` for the Raiders in every season.
- NBA: Kalshi evidence is mixed; we pick ``GSW``, ``NYK``, ``SAS``, ``NOP``, ``UTA``, ``WAS``,
  ``PHX``, ``BKN``, ``CHA`` (the variants seen in most public code and in Kalshi's own docs).
  538 uses Basketball-Reference codes (``BRK``, ``CHO``, ``PHO``, ``GSW``, ...).
- MLB: Kalshi ``AZ``, ``CWS``, ``WSN``; ``ATH`` for the Athletics on both sides.
- NHL: Kalshi ``NJD``, ``TBL``, ``SJS``, ``LAK``, ``UTA``.
- WNBA: Kalshi assumed equal to ESPN.
- NCAAF / NCAAMB: the tables are PARTIAL (power-conference and other prominent Division I
  programmes only); Kalshi and 538 codes equal ESPN's except Missouri ``MIZZ`` (seen in Kalshi
  tickers) and Texas A&M ``TXAM`` (a guess: ``&`` cannot appear in a ticker). A game involving a
  team that is not listed simply does not match a market.

``aliases`` hold older codes of the same franchise (e.g. ESPN's ``OAK`` for the Raiders); they are
consulted by :func:`by_espn` and :func:`by_fte` only when no current code matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from graph.models import League

__all__ = [
    "ESPN_PATH",
    "SERIES",
    "Team",
    "by_espn",
    "by_fte",
    "by_kalshi",
    "teams",
]


@dataclass(frozen=True, slots=True)
class Team:
    league: League
    key: str
    name: str
    location: str
    nickname: str
    espn: str
    kalshi: str
    fte: str
    espn_id: str
    aliases: tuple[str, ...] = ()
    places: tuple[str, ...] = ()  # other names of the location (e.g. "Los Angeles" for "LA")


SERIES: Mapping[League, str] = MappingProxyType(
    {
        League.NFL: "KXNFLGAME",
        League.NBA: "KXNBAGAME",
        League.MLB: "KXMLBGAME",
        League.NHL: "KXNHLGAME",
        League.WNBA: "KXWNBAGAME",
        League.NCAAF: "KXNCAAFGAME",
        League.NCAAMB: "KXNCAAMBGAME",
    }
)

ESPN_PATH: Mapping[League, str] = MappingProxyType(
    {
        League.NFL: "football/nfl",
        League.NBA: "basketball/nba",
        League.MLB: "baseball/mlb",
        League.NHL: "hockey/nhl",
        League.WNBA: "basketball/wnba",
        League.NCAAF: "football/college-football",
        League.NCAAMB: "basketball/mens-college-basketball",
    }
)

# (ESPN abbreviation, ESPN team id, location, nickname)
_Row = tuple[str, str, str, str]

_NFL: tuple[_Row, ...] = (
    ("ARI", "22", "Arizona", "Cardinals"),
    ("ATL", "1", "Atlanta", "Falcons"),
    ("BAL", "33", "Baltimore", "Ravens"),
    ("BUF", "2", "Buffalo", "Bills"),
    ("CAR", "29", "Carolina", "Panthers"),
    ("CHI", "3", "Chicago", "Bears"),
    ("CIN", "4", "Cincinnati", "Bengals"),
    ("CLE", "5", "Cleveland", "Browns"),
    ("DAL", "6", "Dallas", "Cowboys"),
    ("DEN", "7", "Denver", "Broncos"),
    ("DET", "8", "Detroit", "Lions"),
    ("GB", "9", "Green Bay", "Packers"),
    ("HOU", "34", "Houston", "Texans"),
    ("IND", "11", "Indianapolis", "Colts"),
    ("JAX", "30", "Jacksonville", "Jaguars"),
    ("KC", "12", "Kansas City", "Chiefs"),
    ("LV", "13", "Las Vegas", "Raiders"),
    ("LAC", "24", "Los Angeles", "Chargers"),
    ("LAR", "14", "Los Angeles", "Rams"),
    ("MIA", "15", "Miami", "Dolphins"),
    ("MIN", "16", "Minnesota", "Vikings"),
    ("NE", "17", "New England", "Patriots"),
    ("NO", "18", "New Orleans", "Saints"),
    ("NYG", "19", "New York", "Giants"),
    ("NYJ", "20", "New York", "Jets"),
    ("PHI", "21", "Philadelphia", "Eagles"),
    ("PIT", "23", "Pittsburgh", "Steelers"),
    ("SF", "25", "San Francisco", "49ers"),
    ("SEA", "26", "Seattle", "Seahawks"),
    ("TB", "27", "Tampa Bay", "Buccaneers"),
    ("TEN", "10", "Tennessee", "Titans"),
    ("WSH", "28", "Washington", "Commanders"),
)

_NBA: tuple[_Row, ...] = (
    ("ATL", "1", "Atlanta", "Hawks"),
    ("BOS", "2", "Boston", "Celtics"),
    ("BKN", "17", "Brooklyn", "Nets"),
    ("CHA", "30", "Charlotte", "Hornets"),
    ("CHI", "4", "Chicago", "Bulls"),
    ("CLE", "5", "Cleveland", "Cavaliers"),
    ("DAL", "6", "Dallas", "Mavericks"),
    ("DEN", "7", "Denver", "Nuggets"),
    ("DET", "8", "Detroit", "Pistons"),
    ("GS", "9", "Golden State", "Warriors"),
    ("HOU", "10", "Houston", "Rockets"),
    ("IND", "11", "Indiana", "Pacers"),
    ("LAC", "12", "LA", "Clippers"),
    ("LAL", "13", "Los Angeles", "Lakers"),
    ("MEM", "29", "Memphis", "Grizzlies"),
    ("MIA", "14", "Miami", "Heat"),
    ("MIL", "15", "Milwaukee", "Bucks"),
    ("MIN", "16", "Minnesota", "Timberwolves"),
    ("NO", "3", "New Orleans", "Pelicans"),
    ("NY", "18", "New York", "Knicks"),
    ("OKC", "25", "Oklahoma City", "Thunder"),
    ("ORL", "19", "Orlando", "Magic"),
    ("PHI", "20", "Philadelphia", "76ers"),
    ("PHX", "21", "Phoenix", "Suns"),
    ("POR", "22", "Portland", "Trail Blazers"),
    ("SAC", "23", "Sacramento", "Kings"),
    ("SA", "24", "San Antonio", "Spurs"),
    ("TOR", "28", "Toronto", "Raptors"),
    ("UTAH", "26", "Utah", "Jazz"),
    ("WSH", "27", "Washington", "Wizards"),
)

_MLB: tuple[_Row, ...] = (
    ("ARI", "29", "Arizona", "Diamondbacks"),
    ("ATH", "11", "Athletics", "Athletics"),
    ("ATL", "15", "Atlanta", "Braves"),
    ("BAL", "1", "Baltimore", "Orioles"),
    ("BOS", "2", "Boston", "Red Sox"),
    ("CHC", "16", "Chicago", "Cubs"),
    ("CHW", "4", "Chicago", "White Sox"),
    ("CIN", "17", "Cincinnati", "Reds"),
    ("CLE", "5", "Cleveland", "Guardians"),
    ("COL", "27", "Colorado", "Rockies"),
    ("DET", "6", "Detroit", "Tigers"),
    ("HOU", "18", "Houston", "Astros"),
    ("KC", "7", "Kansas City", "Royals"),
    ("LAA", "3", "Los Angeles", "Angels"),
    ("LAD", "19", "Los Angeles", "Dodgers"),
    ("MIA", "28", "Miami", "Marlins"),
    ("MIL", "8", "Milwaukee", "Brewers"),
    ("MIN", "9", "Minnesota", "Twins"),
    ("NYM", "21", "New York", "Mets"),
    ("NYY", "10", "New York", "Yankees"),
    ("PHI", "22", "Philadelphia", "Phillies"),
    ("PIT", "23", "Pittsburgh", "Pirates"),
    ("SD", "25", "San Diego", "Padres"),
    ("SF", "26", "San Francisco", "Giants"),
    ("SEA", "12", "Seattle", "Mariners"),
    ("STL", "24", "St. Louis", "Cardinals"),
    ("TB", "30", "Tampa Bay", "Rays"),
    ("TEX", "13", "Texas", "Rangers"),
    ("TOR", "14", "Toronto", "Blue Jays"),
    ("WSH", "20", "Washington", "Nationals"),
)

_NHL: tuple[_Row, ...] = (
    ("ANA", "25", "Anaheim", "Ducks"),
    ("BOS", "1", "Boston", "Bruins"),
    ("BUF", "2", "Buffalo", "Sabres"),
    ("CGY", "3", "Calgary", "Flames"),
    ("CAR", "7", "Carolina", "Hurricanes"),
    ("CHI", "4", "Chicago", "Blackhawks"),
    ("COL", "17", "Colorado", "Avalanche"),
    ("CBJ", "29", "Columbus", "Blue Jackets"),
    ("DAL", "9", "Dallas", "Stars"),
    ("DET", "5", "Detroit", "Red Wings"),
    ("EDM", "6", "Edmonton", "Oilers"),
    ("FLA", "26", "Florida", "Panthers"),
    ("LA", "8", "Los Angeles", "Kings"),
    ("MIN", "30", "Minnesota", "Wild"),
    ("MTL", "10", "Montreal", "Canadiens"),
    ("NSH", "27", "Nashville", "Predators"),
    ("NJ", "11", "New Jersey", "Devils"),
    ("NYI", "12", "New York", "Islanders"),
    ("NYR", "13", "New York", "Rangers"),
    ("OTT", "14", "Ottawa", "Senators"),
    ("PHI", "15", "Philadelphia", "Flyers"),
    ("PIT", "16", "Pittsburgh", "Penguins"),
    ("SJ", "18", "San Jose", "Sharks"),
    ("SEA", "124292", "Seattle", "Kraken"),
    ("STL", "19", "St. Louis", "Blues"),
    ("TB", "20", "Tampa Bay", "Lightning"),
    ("TOR", "21", "Toronto", "Maple Leafs"),
    ("UTAH", "129764", "Utah", "Mammoth"),
    ("VAN", "22", "Vancouver", "Canucks"),
    ("VGK", "37", "Vegas", "Golden Knights"),
    ("WSH", "23", "Washington", "Capitals"),
    ("WPG", "28", "Winnipeg", "Jets"),
)

# 2026 expansion teams (Toronto, Portland): ESPN ids not known yet.
_WNBA: tuple[_Row, ...] = (
    ("ATL", "20", "Atlanta", "Dream"),
    ("CHI", "19", "Chicago", "Sky"),
    ("CONN", "18", "Connecticut", "Sun"),
    ("DAL", "3", "Dallas", "Wings"),
    ("GS", "129689", "Golden State", "Valkyries"),
    ("IND", "5", "Indiana", "Fever"),
    ("LV", "17", "Las Vegas", "Aces"),
    ("LA", "6", "Los Angeles", "Sparks"),
    ("MIN", "8", "Minnesota", "Lynx"),
    ("NY", "9", "New York", "Liberty"),
    ("PHX", "11", "Phoenix", "Mercury"),
    ("POR", "", "Portland", "Fire"),
    ("SEA", "14", "Seattle", "Storm"),
    ("TOR", "", "Toronto", "Tempo"),
    ("WSH", "16", "Washington", "Mystics"),
)

# Schools shared by the football and basketball tables (ESPN uses one id per school).
_SCHOOLS: dict[str, _Row] = {
    row[0]: row
    for row in (
        # SEC
        ("ALA", "333", "Alabama", "Crimson Tide"),
        ("ARK", "8", "Arkansas", "Razorbacks"),
        ("AUB", "2", "Auburn", "Tigers"),
        ("FLA", "57", "Florida", "Gators"),
        ("UGA", "61", "Georgia", "Bulldogs"),
        ("UK", "96", "Kentucky", "Wildcats"),
        ("LSU", "99", "LSU", "Tigers"),
        ("MISS", "145", "Ole Miss", "Rebels"),
        ("MSST", "344", "Mississippi State", "Bulldogs"),
        ("MIZ", "142", "Missouri", "Tigers"),
        ("OU", "201", "Oklahoma", "Sooners"),
        ("SC", "2579", "South Carolina", "Gamecocks"),
        ("TENN", "2633", "Tennessee", "Volunteers"),
        ("TEX", "251", "Texas", "Longhorns"),
        ("TA&M", "245", "Texas A&M", "Aggies"),
        ("VAN", "238", "Vanderbilt", "Commodores"),
        # Big Ten
        ("ILL", "356", "Illinois", "Fighting Illini"),
        ("IU", "84", "Indiana", "Hoosiers"),
        ("IOWA", "2294", "Iowa", "Hawkeyes"),
        ("MD", "120", "Maryland", "Terrapins"),
        ("MICH", "130", "Michigan", "Wolverines"),
        ("MSU", "127", "Michigan State", "Spartans"),
        ("MINN", "135", "Minnesota", "Golden Gophers"),
        ("NEB", "158", "Nebraska", "Cornhuskers"),
        ("NU", "77", "Northwestern", "Wildcats"),
        ("OSU", "194", "Ohio State", "Buckeyes"),
        ("ORE", "2483", "Oregon", "Ducks"),
        ("PSU", "213", "Penn State", "Nittany Lions"),
        ("PUR", "2509", "Purdue", "Boilermakers"),
        ("RUTG", "164", "Rutgers", "Scarlet Knights"),
        ("UCLA", "26", "UCLA", "Bruins"),
        ("USC", "30", "USC", "Trojans"),
        ("WASH", "264", "Washington", "Huskies"),
        ("WIS", "275", "Wisconsin", "Badgers"),
        # ACC
        ("BC", "103", "Boston College", "Eagles"),
        ("CAL", "25", "California", "Golden Bears"),
        ("CLEM", "228", "Clemson", "Tigers"),
        ("DUKE", "150", "Duke", "Blue Devils"),
        ("FSU", "52", "Florida State", "Seminoles"),
        ("GT", "59", "Georgia Tech", "Yellow Jackets"),
        ("LOU", "97", "Louisville", "Cardinals"),
        ("MIA", "2390", "Miami", "Hurricanes"),
        ("UNC", "153", "North Carolina", "Tar Heels"),
        ("NCST", "152", "NC State", "Wolfpack"),
        ("PITT", "221", "Pittsburgh", "Panthers"),
        ("SMU", "2567", "SMU", "Mustangs"),
        ("STAN", "24", "Stanford", "Cardinal"),
        ("SYR", "183", "Syracuse", "Orange"),
        ("UVA", "258", "Virginia", "Cavaliers"),
        ("VT", "259", "Virginia Tech", "Hokies"),
        ("WAKE", "154", "Wake Forest", "Demon Deacons"),
        # Big 12
        ("ARIZ", "12", "Arizona", "Wildcats"),
        ("ASU", "9", "Arizona State", "Sun Devils"),
        ("BAY", "239", "Baylor", "Bears"),
        ("BYU", "252", "BYU", "Cougars"),
        ("CIN", "2132", "Cincinnati", "Bearcats"),
        ("COLO", "38", "Colorado", "Buffaloes"),
        ("HOU", "248", "Houston", "Cougars"),
        ("ISU", "66", "Iowa State", "Cyclones"),
        ("KU", "2305", "Kansas", "Jayhawks"),
        ("KSU", "2306", "Kansas State", "Wildcats"),
        ("OKST", "197", "Oklahoma State", "Cowboys"),
        ("TCU", "2628", "TCU", "Horned Frogs"),
        ("TTU", "2641", "Texas Tech", "Red Raiders"),
        ("UCF", "2116", "UCF", "Knights"),
        ("UTAH", "254", "Utah", "Utes"),
        ("WVU", "277", "West Virginia", "Mountaineers"),
        # Independents, Pac-12 remainder, Group of Five and basketball powers
        ("ND", "87", "Notre Dame", "Fighting Irish"),
        ("WSU", "265", "Washington State", "Cougars"),
        ("ORST", "204", "Oregon State", "Beavers"),
        ("BSU", "68", "Boise State", "Broncos"),
        ("MEM", "235", "Memphis", "Tigers"),
        ("ARMY", "349", "Army", "Black Knights"),
        ("NAVY", "2426", "Navy", "Midshipmen"),
        ("TULN", "2655", "Tulane", "Green Wave"),
        ("SDSU", "21", "San Diego State", "Aztecs"),
        ("GONZ", "2250", "Gonzaga", "Bulldogs"),
        ("SMC", "2608", "Saint Mary's", "Gaels"),
        ("CONN", "41", "UConn", "Huskies"),
        ("VILL", "222", "Villanova", "Wildcats"),
        ("CREI", "156", "Creighton", "Bluejays"),
        ("MARQ", "269", "Marquette", "Golden Eagles"),
        ("XAV", "2752", "Xavier", "Musketeers"),
        ("SJU", "2599", "St. John's", "Red Storm"),
        ("PROV", "2507", "Providence", "Friars"),
        ("HALL", "2550", "Seton Hall", "Pirates"),
        ("BUT", "2086", "Butler", "Bulldogs"),
        ("GTWN", "46", "Georgetown", "Hoyas"),
        ("DEP", "305", "DePaul", "Blue Demons"),
        ("DAY", "2168", "Dayton", "Flyers"),
    )
}

_BASKETBALL_ONLY = frozenset(
    {
        "GONZ",
        "SMC",
        "VILL",
        "CREI",
        "MARQ",
        "XAV",
        "SJU",
        "PROV",
        "HALL",
        "BUT",
        "GTWN",
        "DEP",
        "DAY",
    }
)
_FOOTBALL_ONLY = frozenset({"ARMY", "NAVY", "TULN", "BSU", "ORST", "WSU"})

_NCAAF = tuple(row for code, row in _SCHOOLS.items() if code not in _BASKETBALL_ONLY)
_NCAAMB = tuple(row for code, row in _SCHOOLS.items() if code not in _FOOTBALL_ONLY)

_ROWS: Mapping[League, tuple[_Row, ...]] = {
    League.NFL: _NFL,
    League.NBA: _NBA,
    League.MLB: _MLB,
    League.NHL: _NHL,
    League.WNBA: _WNBA,
    League.NCAAF: _NCAAF,
    League.NCAAMB: _NCAAMB,
}

# ESPN code -> Kalshi code, only where they differ.
_COLLEGE_KALSHI = {"MIZ": "MIZZ", "TA&M": "TXAM"}
_KALSHI: Mapping[League, Mapping[str, str]] = {
    League.NFL: {"WSH": "WAS", "JAX": "JAC", "LAR": "LA"},
    League.NBA: {"GS": "GSW", "NY": "NYK", "SA": "SAS", "NO": "NOP", "UTAH": "UTA", "WSH": "WAS"},
    League.MLB: {"ARI": "AZ", "CHW": "CWS", "WSH": "WSN"},
    League.NHL: {"NJ": "NJD", "TB": "TBL", "SJ": "SJS", "LA": "LAK", "UTAH": "UTA"},
    League.WNBA: {},
    League.NCAAF: _COLLEGE_KALSHI,
    League.NCAAMB: _COLLEGE_KALSHI,
}

# ESPN code -> FiveThirtyEight code (../shared/data CSVs), only where they differ.
_FTE: Mapping[League, Mapping[str, str]] = {
    League.NFL: {"LV": "OAK"},
    League.NBA: {
        "BKN": "BRK",
        "CHA": "CHO",
        "GS": "GSW",
        "NO": "NOP",
        "NY": "NYK",
        "PHX": "PHO",
        "SA": "SAS",
        "UTAH": "UTA",
        "WSH": "WAS",
    },
}

# Older ESPN codes of the same franchise.
_ALIASES: Mapping[League, Mapping[str, tuple[str, ...]]] = {
    League.NFL: {"LV": ("OAK",), "LAR": ("STL",), "LAC": ("SD",)},
    League.NBA: {"NO": ("NOH",), "BKN": ("NJ",)},
    League.MLB: {"ATH": ("OAK",)},
}

_PLACES: Mapping[tuple[League, str], tuple[str, ...]] = {
    (League.NBA, "LAC"): ("Los Angeles",),
    (League.NCAAF, "MIA"): ("Miami (FL)",),
    (League.NCAAMB, "MIA"): ("Miami (FL)",),
}

# ESPN displayName where it is not "<location> <nickname>".
_NAMES: Mapping[tuple[League, str], str] = {(League.MLB, "ATH"): "Athletics"}


def _build(league: League) -> tuple[Team, ...]:
    kalshi = _KALSHI.get(league, {})
    fte = _FTE.get(league, {})
    aliases = _ALIASES.get(league, {})
    return tuple(
        Team(
            league=league,
            key=espn,
            name=_NAMES.get((league, espn), f"{location} {nickname}"),
            location=location,
            nickname=nickname,
            espn=espn,
            kalshi=kalshi.get(espn, espn),
            fte=fte.get(espn, espn),
            espn_id=espn_id,
            aliases=aliases.get(espn, ()),
            places=_PLACES.get((league, espn), ()),
        )
        for espn, espn_id, location, nickname in _ROWS[league]
    )


_TEAMS: Mapping[League, tuple[Team, ...]] = {league: _build(league) for league in League}


def _index(code_of: str, with_aliases: bool) -> Mapping[League, Mapping[str, Team]]:
    index: dict[League, dict[str, Team]] = {}
    for league, rows in _TEAMS.items():
        table: dict[str, Team] = {}
        if with_aliases:
            for team in rows:
                for alias in team.aliases:
                    table[alias] = team
        # Current codes are written last so they win over any historical alias.
        for team in rows:
            table[getattr(team, code_of)] = team
        index[league] = table
    return index


_BY_ESPN = _index("espn", with_aliases=True)
_BY_KALSHI = _index("kalshi", with_aliases=False)
_BY_FTE = _index("fte", with_aliases=True)


def teams(league: League) -> tuple[Team, ...]:
    """Every team we know in ``league`` (college tables are partial)."""
    return _TEAMS[league]


def by_espn(league: League, code: str) -> Team | None:
    """The team whose ESPN abbreviation (or older ESPN code) is exactly ``code``."""
    return _BY_ESPN[league].get(code)


def by_kalshi(league: League, code: str) -> Team | None:
    """The team whose Kalshi ticker code is exactly ``code``."""
    return _BY_KALSHI[league].get(code)


def by_fte(league: League, code: str) -> Team | None:
    """The team whose FiveThirtyEight code (or older code) is exactly ``code``."""
    return _BY_FTE[league].get(code)
