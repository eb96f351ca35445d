"""Refresh temporary AWS credentials with an MFA code, never harming ~/.aws/credentials."""

from __future__ import annotations

import _thread
import argparse
import collections
import configparser
import contextlib
import errno
import functools
import os
import re
import stat
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from datetime import timezone

# PERF: `typing` is imported for the type checker only: 4 ms of every start, a third of the skip
# path's own work (python -X importtime). mypy treats any TYPE_CHECKING name as typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover (typing only)
    from typing import IO
    from typing import Any
    from typing import NamedTuple
    from typing import TextIO
    from typing import TypeVar

    from mypy_boto3_sts import STSClient
    from mypy_boto3_sts.type_defs import AssumeRoleResponseTypeDef
    from mypy_boto3_sts.type_defs import GetSessionTokenResponseTypeDef

    T = TypeVar("T")
    # Any mapping of a file's sections, a Sections or a plain dict (the class itself stays: it is what
    # keeps [DEFAULT] from being copied into every section).
    IniSections = Mapping[str, Mapping[str, str]]
else:

    class _RecordType(type):
        """At run time, `class X(NamedTuple)` builds the same collections.namedtuple as typing would."""

        def __new__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
            if not bases:
                return super().__new__(cls, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[field] for field in fields if field in namespace]
            record = collections.namedtuple(name, fields, defaults=defaults, module=str(namespace["__module__"]))
            body = {key: value for key, value in namespace.items() if key not in fields}
            return type(name, (record,), {**body, "__slots__": ()})

    class NamedTuple(metaclass=_RecordType):
        pass


__version__ = "0.1.0"

DEFAULT_PROFILE = "default"
DEFAULT_SUFFIX = "-long-term"
DEFAULT_DURATION = 43200
ROLE_DURATION = 3600
DEFAULT_MIN_REMAINING = "15m"
MIN_DURATION = 900
MAX_DURATION = 129600
MAX_ROLE_DURATION = 43200  # AssumeRole's limit, whatever the role's maximum session duration
DEFAULT_OTP_TIMEOUT = 60.0
MAX_OTP_TIMEOUT = 3600.0
PROMPT_ATTEMPTS = 3
HELPER_OUTPUT_LIMIT = 64 * 1024
# Set for every helper program, "<PID of aws-mfa>:<a token of that helper>": an aws-mfa that
# finds it was started by a helper (a key program or OTP command that runs aws-mfa, directly
# or through `aws`) and refuses, or each run would start the next without end; and on Linux
# it finds what a helper started outside its process group.
HELPER_VARIABLE = "AWS_MFA_HELPER_OF"
HELPER_END_GRACE = 0.5  # between SIGTERM and SIGKILL for a helper ended early
LINE_LIMIT = 256  # what is read of one line of input for a code
MAX_FILE_BYTES = 16 * 1024 * 1024
WAIT_NOTICE_AFTER = 1.0
TOTP_PERIOD = 30.0
# Where to read the code from, and to write the prompt to, when stdin and stdout are taken.
CONTROLLING_TERMINAL = "/dev/tty"
STS_CONNECT_TIMEOUT = 5.0
STS_READ_TIMEOUT = 15.0
# The read timeout bounds each read, not a trickling answer, which would hold a run for ever.
ANSWER_DEADLINE = STS_CONNECT_TIMEOUT + STS_READ_TIMEOUT
IMDS_BUDGET = 0.25
IMDS_DEFAULT_ENDPOINT = "http://169.254.169.254"
IMDS_IPV6_ENDPOINT = "http://[fd00:ec2::254]"
LOCK_TIMEOUT = 30.0
WRITE_ATTEMPTS = 3

# [0-9], not \d: \d also matches other scripts' digits, which STS would reject.
CODE_RE = re.compile(r"[0-9]{6}")
DURATION_RE = re.compile(r"(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?")
EMPTY_VALUE_RE = re.compile(r"^[^\n=:]*[=:][^\S\n]*$", re.MULTILINE)
# A key with this many spaces inside is refused (botocore's parser is quadratic in them).
SPACE_RUN = 16
SPACE_RUN_RE = re.compile(rf"\S[^\S\n]{{{SPACE_RUN}}}")
ACCESS_KEY_RE = re.compile(r"\w{16,128}", re.ASCII)
# The forms STS's API accepts for these parameters, in ASCII.
DEVICE_RE = re.compile(r"[\w+=/:,.@-]{9,256}", re.ASCII)
ROLE_RE = re.compile(r"arn:[\w+=/:,.@-]{16,2044}", re.ASCII)
SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
SECRET_RE = re.compile(r"[!-~]+")  # printable ASCII, no spaces or line breaks
CODE_REJECTED = "STS rejected the MFA code (wrong, expired or already used); wait for the next code and run again"
ROLE_KEY = "aws_mfa_role_arn"
OP_SOURCE = "1Password"
KEY_NAMES = ("aws_access_key_id", "aws_secret_access_key")
SECRET_NAMES = ("aws_secret_access_key", "aws_session_token", "aws_security_token")
SESSION_TOKEN_KEYS = ("aws_session_token", "aws_security_token")
CLEARED_KEYS = (*KEY_NAMES, *SESSION_TOKEN_KEYS, "expiration", ROLE_KEY)
# STS answers with its own clock's Date; a machine clock further off than this is named.
CLOCK_SKEW_LIMIT = 30.0
SIGNATURE_SKEW_LIMIT = 300.0  # STS refuses a request signed more than 5 minutes off its clock
# Errors after which the clock is worth comparing: a rejected code, a refused signature.
SIGNATURE_ERRORS = ("SignatureDoesNotMatch", "RequestExpired", "InvalidSignatureException")


class LongTermKeys(NamedTuple):
    access_key_id: str
    secret_access_key: str


class Profiles(NamedTuple):
    """The profile a session is written to, and the one its long-term keys are read from."""

    short: str
    long: str


class SessionCredentials(NamedTuple):
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


class Helper(NamedTuple):
    """An automatic code source: a program that prints the current code."""

    argv: list[str]
    what: str


# Where a setting came from, the most direct first: a flag beats the environment beats a file.
FLAG, ENVIRONMENT, FILE = range(3)


class Source(NamedTuple):
    """A resolved setting, where it came from (for messages and --dry-run) and how directly (FLAG...)."""

    value: str
    origin: str
    level: int


class Setting(NamedTuple):
    """A setting with several sources: --DEST, its environment variable, aws_mfa_DEST in the config file."""

    dest: str  # the argparse dest
    variable: str
    default: str  # what applies when none is set, for --dry-run -v
    alias: tuple[str, ...] = ()  # config keys read after aws_mfa_DEST

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    @property
    def keys(self) -> tuple[str, ...]:
        return (f"aws_mfa_{self.dest}", *self.alias)


# The order matters only for --dry-run -v, which lists them in it.
SETTINGS = (
    Setting("duration", "AWS_SESSION_DURATION", f"{DEFAULT_DURATION}, {ROLE_DURATION} with a role"),
    Setting("min_remaining", "AWS_MFA_MIN_REMAINING", DEFAULT_MIN_REMAINING),
    Setting("assume_role", "AWS_MFA_ASSUME_ROLE", "none"),
    # mfa_process is aws-vault's name for the same thing: its users' config files work as they are.
    Setting("otp_command", "AWS_MFA_OTP_COMMAND", "none", ("mfa_process",)),
    Setting("op_item_name", "AWS_MFA_UPDATER_OP_ITEM_NAME", "none"),
    Setting("op_account", "AWS_MFA_UPDATER_OP_ACCOUNT", "op's default account"),
)


class Settings(NamedTuple):
    """The settings in effect, checked, and where each came from (None: the built-in default)."""

    duration: int | None
    min_remaining: int
    assume_role: str | None
    helper: Helper | None
    origins: dict[str, Source | None]


class AwsMfaError(Exception):
    """A failure the user can act on; main() prints it as one line and exits 1."""


class UsageError(AwsMfaError):
    """Settings that cannot go together, found once they are all read; main() exits 2, as for a bad flag."""


# --- pure functions that decide ------------------------------------------------


def _seconds(text: str) -> int:
    text = text.strip().lower()
    if len(text) > 32:  # 36h is 129600 s; int() of thousands of digits is slow, and refused past 4300
        raise argparse.ArgumentTypeError(f"{text[:16]!r}... is too long for a duration (at most 36h)")
    if re.fullmatch("[0-9]+", text):
        return int(text)
    match = DURATION_RE.fullmatch(text)
    if not text or not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (use seconds like 43200, or 15m, 12h, 1h30m)")
    hours, minutes, secs = (int(match[g] or 0) for g in "hms")
    return hours * 3600 + minutes * 60 + secs


def parse_duration(text: str) -> int:
    """Seconds from `43200`, `15m`, `12h`, `1h30m`; argparse type for -d."""
    seconds = _seconds(text)
    if not MIN_DURATION <= seconds <= MAX_DURATION:
        raise argparse.ArgumentTypeError(
            f"{text.strip()} is {seconds} s; STS accepts {MIN_DURATION} to {MAX_DURATION} s (15m to 36h)"
        )
    return seconds


def parse_min_remaining(text: str) -> int:
    """argparse type for --min-remaining: a duration from 0 to 36h."""
    seconds = _seconds(text)
    if seconds > MAX_DURATION:
        raise argparse.ArgumentTypeError(f"{text.strip()} is longer than any session (36h)")
    return seconds


def parse_timeout(text: str) -> float:
    """argparse type for --otp-timeout: seconds, more than 0 and at most an hour."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_OTP_TIMEOUT:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0 and at most {MAX_OTP_TIMEOUT:g}")
    return seconds


def code_argument(text: str) -> str:
    """argparse type for --code: six digits."""
    if not CODE_RE.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError("the MFA code is six digits")
    return text.strip()


def _unusable_in_header(text: str) -> bool:
    """True for text that cannot stand inside a [section] header as written and read back."""
    # Undecodable bytes from the command line arrive as surrogates, which cannot be written as UTF-8.
    return not text.strip() or text != text.strip() or any(c in "[]\r\n" or "\ud800" <= c <= "\udfff" for c in text)


def parse_text(text: str) -> str:
    """A one-line value (a 1Password item or account)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is blank")
    if "\n" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a one-line value")
    return text.strip()


def profile_name(text: str) -> str:
    """argparse type for profile names: non-empty, one line, no brackets, not DEFAULT."""
    if _unusable_in_header(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a usable profile name")
    if text == configparser.DEFAULTSECT:
        # configparser folds [DEFAULT] into every other section, so it is no profile.
        raise argparse.ArgumentTypeError("DEFAULT is not a profile: it applies to every section")
    return text


def long_term_suffix(text: str) -> str:
    """argparse type for --long-term-suffix: never empty, or the run would write over its own long-term keys."""
    if _unusable_in_header(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a usable suffix: it must be non-empty, one line, without brackets or outer spaces"
        )
    return text


def command_words(text: str) -> list[str]:
    """A command line split as a shell would, to be run without one; argparse.ArgumentTypeError if it is none."""
    import shlex  # only when a command is set

    try:
        words = shlex.split(text)
    except ValueError as error:
        # Not the text itself: an OTP command's arguments may hold a TOTP seed (oathtool -b SEED).
        raise argparse.ArgumentTypeError(f"not a command line: {str(error).lower()}") from None
    if not words:
        raise argparse.ArgumentTypeError("not a command line: it is empty")
    return words


def shown_command(text: str) -> str:
    """An OTP command as messages show it: the program only, as its arguments may hold a TOTP seed."""
    try:
        return f"{command_words(text)[0]} ..."
    except argparse.ArgumentTypeError:  # a value overruled by a flag is not checked, and may not split
        return "(not a command line)"


def command_argument(text: str) -> str:
    """argparse type for --otp-command: something that splits into a program and its arguments."""
    command_words(text)
    return text


def _aws_value(what: str, pattern: re.Pattern[str]) -> Callable[[str], str]:
    """An argparse type for a value STS takes only in a given form (ASCII, so never undecodable bytes)."""

    def check(text: str) -> str:
        if not pattern.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return text

    return check


device_argument = _aws_value("an MFA device ARN or serial number", DEVICE_RE)
role_argument = _aws_value("a role ARN (arn:aws:iam::ACCOUNT:role/NAME)", ROLE_RE)
role_session_name_argument = _aws_value("a role session name (2 to 64 of A-Z a-z 0-9 _+=,.@-)", SESSION_NAME_RE)
external_id_argument = _aws_value("an external id (2 to 1224 of A-Z a-z 0-9 _+=,.@:/-)", EXTERNAL_ID_RE)


def format_expiration(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, the form written to the file."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_local(moment: datetime) -> str:
    """A time for people: local time with the zone's name."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _valid_until(expiration: datetime, now: datetime) -> str:
    """'valid until <local time> (<span> left)', as every message about a kept session says it."""
    minutes = max(int((expiration - now).total_seconds() // 60), 0)
    left = f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
    return f"valid until {format_local(expiration)} ({left} left)"


def parse_expiration(text: str | None) -> datetime | None:
    """RFC 3339, or the naive `YYYY-MM-DD HH:MM:SS` older tools wrote (UTC); None if neither."""
    if not text:
        return None
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"  # fromisoformat takes Z only from Python 3.11
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # 9999-12-31T23:59:59-05:00 is past datetime's last day in UTC
        return None
    # A moment at the very edge of datetime's range cannot be shown in every time zone.
    return moment if 1 < moment.year < 9999 else None


def session_token(section: Mapping[str, str]) -> str | None:
    """The section's session token (aws_session_token, else the older aws_security_token), if any."""
    return next((section[key] for key in SESSION_TOKEN_KEYS if section.get(key)), None)


def session_in(section: Mapping[str, str] | None) -> SessionCredentials | None:
    """The complete session a short-term section holds, if any."""
    section = section or {}
    expiration = parse_expiration(section.get("expiration"))
    token = session_token(section)
    if not (section.get("aws_access_key_id") and section.get("aws_secret_access_key") and token and expiration):
        return None
    if long_term_kind(section):  # an IAM user's key beside an old token is no session
        return None
    return SessionCredentials(section["aws_access_key_id"], section["aws_secret_access_key"], token, expiration)


def still_valid(
    section: Mapping[str, str] | None, role: str | None, min_remaining: int, now: datetime
) -> SessionCredentials | None:
    """The section's session when it may be kept: complete, same role, far enough from expiry."""
    session = session_in(section)
    if session is None or (section or {}).get(ROLE_KEY) != role:
        return None
    return session if (session.expiration - now).total_seconds() > min_remaining else None


def env_lines(session: SessionCredentials) -> str:
    """`export` lines for eval in sh, bash and zsh."""
    import shlex  # only for --env

    values = {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
        # botocore reads AWS_SECURITY_TOKEN before AWS_SESSION_TOKEN: a stale one would win.
        "AWS_SECURITY_TOKEN": session.session_token,
        "AWS_CREDENTIAL_EXPIRATION": format_expiration(session.expiration),
    }
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())


def credential_process_json(session: SessionCredentials) -> str:
    import json  # only for --credential-process

    return json.dumps(
        {
            "Version": 1,
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key,
            "SessionToken": session.session_token,
            "Expiration": format_expiration(session.expiration),
        }
    )


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split where configparser's universal newlines split them."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


class Sections(Mapping[str, Mapping[str, str]]):
    """The sections as botocore reads them, [DEFAULT] under its name, each configparser's view of it: a copy
    of each would copy [DEFAULT] into it, close to a minute for --list on a 350 KB file with many of both."""

    def __init__(self, parser: configparser.RawConfigParser, text: str) -> None:
        self._parser = parser
        self._text = text

    @functools.cached_property
    def own(self) -> dict[str, dict[str, str]]:
        """Each section's own keys and values, [DEFAULT]'s under its name, none inherited: linear in the file."""
        own: dict[str, dict[str, str]] = {}
        for info in _classify(split_lines(self._text)):
            if info.section is not None:
                keys = own.setdefault(info.section, {})
                if info.kind == "option" and info.key is not None:
                    keys[info.key] = self[info.section][info.key]
        return own

    def __getitem__(self, name: str) -> Mapping[str, str]:
        if name == configparser.DEFAULTSECT and self._parser.defaults():
            return self._parser.defaults()
        if self._parser.has_section(name):
            return self._parser[name]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        yield from self._parser.sections()
        if self._parser.defaults():
            yield configparser.DEFAULTSECT

    def __len__(self) -> int:
        return len(self._parser.sections()) + bool(self._parser.defaults())


class _Parser(configparser.RawConfigParser):
    """RawConfigParser reading as botocore's does, in linear time: configparser's option pattern backtracks
    over a run of spaces inside a key (`x`, 40,000 spaces and `y`: 17 s); up to the first delimiter is one pass."""

    OPTCRE = re.compile(r"(?P<option>[^=:]*)(?P<vi>[=:])\s*(?P<value>.*)$")


def parse_ini(text: str, path: str) -> Sections:
    """Parse as botocore does (RawConfigParser, strict, universal newlines)."""
    parser = _Parser()
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        parser.read_string(normalized)
    except configparser.Error as error:
        raise AwsMfaError(f"{path}: {_describe_parse_error(error)}; fix the file, nothing was written") from None
    sections = Sections(parser, normalized)
    if SPACE_RUN_RE.search(normalized):
        for number, info in enumerate(_classify(split_lines(normalized)), 1):
            if info.kind == "option" and info.key is not None and SPACE_RUN_RE.search(info.key):
                raise AwsMfaError(
                    f"{path}: line {number}: a key with {SPACE_RUN} or more spaces in its name, which botocore "
                    "takes minutes to read; fix the file, nothing was written"
                )
    # botocore reads a value whose first line is empty as nested `key = value` lines (the s3 = /
    # max_concurrent_requests = 10 form) and rejects the file when one has no "=". Only an option line
    # with nothing after its delimiter can start one: look for that first.
    if EMPTY_VALUE_RE.search(normalized):
        for name, keys in sections.own.items():
            for key, value in keys.items():
                if value.startswith("\n") and any("=" not in line for line in value.splitlines() if line.strip()):
                    raise AwsMfaError(
                        f"{path}: [{name}] {key}: an indented line below it has no '=' (botocore reads such "
                        "lines as nested keys); fix the file, nothing was written"
                    )
    return sections


def _describe_parse_error(error: configparser.Error) -> str:
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno}: text before the first [section] header"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"line {error.lineno}: section [{error.section}] appears twice"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"line {error.lineno}: key {error.option!r} appears twice in [{error.section}]"
    if isinstance(error, configparser.ParsingError):
        lines = ", ".join(str(lineno) for lineno, _ in error.errors)
        return f"line {lines}: not a 'key = value' line, [section] header or comment"
    return f"cannot be parsed ({type(error).__name__})"  # pragma: no cover (strict parser raises only the above)


class _Line(NamedTuple):
    section: str | None
    key: str | None  # the option this line starts or continues, as optionxform spells it
    kind: str  # "header", "option", "continuation" or "other" (blank or comment)


def _classify(lines: Sequence[str]) -> list[_Line]:
    """What configparser makes of each line; mirrors RawConfigParser._read for a valid file."""
    parser = _Parser()
    classified: list[_Line] = []
    section: str | None = None
    key: str | None = None
    indent = sys.maxsize
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            classified.append(_Line(section, None, "other"))
            continue
        line_indent = len(line) - len(line.lstrip())
        if section is not None and key is not None and line_indent > indent:
            classified.append(_Line(section, key, "continuation"))
            continue
        indent = line_indent
        header = parser.SECTCRE.match(stripped)
        if header:
            section, key = header["header"], None
            classified.append(_Line(section, None, "header"))
            continue
        option = parser.OPTCRE.match(stripped)
        assert option is not None  # parse_ini rejected any other line before
        key = parser.optionxform(option["option"].rstrip())
        classified.append(_Line(section, key, "option"))
    return classified


def _replace_value(line: str, value: str) -> str:
    """The same line with a new value: indentation, key case, delimiter and spacing kept."""
    body = line.rstrip("\r\n")
    lead = len(body) - len(body.lstrip())
    option = _Parser.OPTCRE.match(body.strip())
    assert option is not None  # _classify matched this line as an option
    return body[: lead + option.start("value")] + value + line[len(body) :]


def splice_section(text: str, section: str, values: Mapping[str, str | None]) -> str:
    """Set (or, for None, remove) keys of one section; every other byte stays as it was."""
    lines = split_lines(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    out: list[str] = []
    anchor: int | None = None  # the section's last header, option or continuation line in out
    written: set[str] = set()
    for line, info in zip(lines, _classify(lines), strict=True):
        in_section = info.section == section
        if in_section and info.key is not None and info.key in values:
            value = values[info.key]
            if info.kind == "option" and value is not None:
                out.append(_replace_value(line, value))
                written.add(info.key)
                anchor = len(out) - 1
            continue  # an old value's continuation lines, or a key being removed
        out.append(line)
        if in_section and info.kind != "other":
            anchor = len(out) - 1
    added = [f"{key} = {value}{newline}" for key, value in values.items() if value is not None and key not in written]
    if anchor is None:  # no such section: append it
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += newline
        if out and out[-1].strip():
            out.append(newline)
        out.append(f"[{section}]{newline}")
        out.extend(added)
    elif added:
        if not out[anchor].endswith(("\n", "\r")):
            out[anchor] += newline
        out[anchor + 1 : anchor + 1] = added
    return "".join(out)


def verify_splice(before: Sections, new_text: str, section: str, values: Mapping[str, str | None], path: str) -> None:
    """The composed text must read back as the old sections plus exactly the new values."""
    defaults = before.get(configparser.DEFAULTSECT, {})
    inherited = [key for key, value in values.items() if value is None and key in defaults]
    if inherited:
        raise AwsMfaError(
            f"[DEFAULT] in {path} sets {' and '.join(inherited)}, which every section inherits, so removing it from "
            f"[{section}] changes nothing; move it into the sections that need it (nothing was written)"
        )
    # A new section inherits [DEFAULT]'s keys, as every section does in configparser.
    target = {**before.get(section, defaults), **values}
    changed = {section: {key: value for key, value in target.items() if value is not None}}
    verify_text(before, new_text, changed=changed, path=path)


def verify_text(before: Sections, new_text: str, *, changed: Mapping[str, Mapping[str, str]], path: str) -> None:
    """new_text must read back as the old sections, but the changed ones as given: only these are compared with
    what they inherit, as comparing all would compare [DEFAULT] once per section (minutes with many of both)."""
    expected = {**before.own, **changed}
    try:
        after = parse_ini(new_text, path)
        read = {**after.own, **{name: dict(after[name]) for name in changed if name in after}}
    except AwsMfaError:
        read = {}
    if read != expected:
        raise AwsMfaError(
            f"{path}: the updated file would not read back as expected around [{next(iter(changed))}] "
            "(unusual indentation or [DEFAULT] keys?); nothing was written"
        )


def refuse_inherited_token(sections: IniSections, name: str, path: str) -> None:
    """Refuse a session token [name] has only from [DEFAULT], naming [DEFAULT]: the section's own keys are fine."""
    own = sections.own.get(name, {}) if isinstance(sections, Sections) else sections.get(name, {})
    section = sections.get(name, {})
    # The key botocore reads the token from (session_token's order), and whether [name] sets it itself.
    key = next((key for key in SESSION_TOKEN_KEYS if section.get(key)), None)
    if key is not None and key not in own:
        raise AwsMfaError(
            f"[{configparser.DEFAULTSECT}] in {path} sets {key}, which every section inherits, [{name}] too; "
            "move it into the sections that need it"
        )


def long_term_keys(sections: IniSections, name: str, path: str) -> LongTermKeys:
    """The long-term keys of `name`, refused when missing, malformed or session keys."""
    if name not in sections:
        raise AwsMfaError(
            f"{path} has no [{name}] section; put your long-term access key there "
            f"(aws_access_key_id, aws_secret_access_key, aws_mfa_device)"
        )
    section = sections[name]
    missing = [key for key in KEY_NAMES if not section.get(key)]
    if missing:
        raise AwsMfaError(f"[{name}] in {path} lacks {' and '.join(missing)}; add the long-term key")
    access_key_id = section["aws_access_key_id"]
    secret = section["aws_secret_access_key"]
    continued = [key for key in KEY_NAMES if "\n" in section[key]]
    if continued:
        raise AwsMfaError(
            f"[{name}] in {path}: an indented line continues the value of {continued[0]}; remove the indentation"
        )
    if not ACCESS_KEY_RE.fullmatch(access_key_id) or any(c.isspace() for c in secret):
        raise AwsMfaError(f"[{name}] in {path}: the access key id or secret is malformed")
    if not access_key_id.startswith("ASIA"):
        refuse_inherited_token(sections, name, path)
    if access_key_id.startswith("ASIA") or session_token(section):
        raise AwsMfaError(
            f"[{name}] in {path} holds temporary session credentials, not a long-term key; "
            "put your IAM user's access key (AKIA...) there"
        )
    return LongTermKeys(access_key_id, secret)


def keys_in_file(section: Mapping[str, str] | None) -> bool:
    """Whether the file, not a program, supplies the keys: botocore decides by aws_access_key_id, even empty."""
    return "aws_access_key_id" in (section or {})


def long_term_kind(section: Mapping[str, str] | None) -> str:
    """How a section shows it holds long-term keys (an access key and no session token), for messages; or "".

    An IAM user's key (AKIA...) is long-term even beside a token: `aws configure` run over an old
    session leaves the token, and that secret cannot be had from AWS again.
    """
    section = section or {}
    key = section.get("aws_access_key_id")
    if not key:
        return ""
    if not session_token(section):
        # A session key (ASIA...) without its token is a broken session, which may be replaced.
        return "" if key.startswith("ASIA") else "without a session token"
    return "(an IAM user's AKIA key) beside a session token" if key.startswith("AKIA") else ""


def key_program(config: IniSections, long_name: str) -> Helper | None:
    """The credential_process of the config file's long-term profile, if it has one."""
    section = config_profiles(config).get(long_name)
    command = config[section].get("credential_process") if section is not None else None
    if not command:
        return None
    what = f"credential_process of [{section}]"
    try:
        return Helper(command_words(command), what)
    except argparse.ArgumentTypeError as error:
        raise AwsMfaError(f"{what} is {error}") from None


def long_term_source(
    profiles: Profiles, sections: IniSections, *, config: IniSections, path: str, exists: bool = True
) -> LongTermKeys | Helper:
    """The long-term keys from the credentials file, else (as in botocore) the program that prints them."""
    short_name, long_name = profiles
    if keys_in_file(sections.get(long_name)):
        return long_term_keys(sections, long_name, path)
    program = key_program(config, long_name)
    if program:
        return program
    if not exists:
        import shlex  # only for this message

        configure = ["aws", "configure", *(["--profile", short_name] if short_name != DEFAULT_PROFILE else [])]
        raise AwsMfaError(
            f"{path} does not exist; run `{shlex.join(configure)}`, then `{command_line(profiles, '--setup')}` "
            f"(or create it with a [{long_name}] section)"
        )
    if long_name not in sections and long_term_kind(sections.get(short_name)):
        raise AwsMfaError(
            f"[{short_name}] in {path} holds long-term keys, as `aws configure` writes them, and there is no "
            f"[{long_name}]; run {command_line(profiles, '--setup')} to move them there"
        )
    return long_term_keys(sections, long_name, path)


def process_keys(output: str, what: str) -> LongTermKeys:
    """The long-term keys in a credential_process program's JSON; nothing of it is ever shown."""
    import json  # only when a program supplies the keys

    try:
        data = json.loads(output)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise AwsMfaError(f"{what} printed no JSON object (the credential_process format)")
    if data.get("Version") != 1:
        raise AwsMfaError(f"{what} printed Version {data.get('Version')!r}; the credential_process format is Version 1")
    missing = [key for key in ("AccessKeyId", "SecretAccessKey") if not isinstance(data.get(key), str) or not data[key]]
    if missing:
        raise AwsMfaError(f"{what} printed no {' and no '.join(missing)}")
    if data.get("SessionToken") or data["AccessKeyId"].startswith("ASIA"):
        raise AwsMfaError(
            f"{what} printed temporary session credentials; GetSessionToken needs the IAM user's long-term "
            "access key (AKIA...), so make it print that, without a SessionToken"
        )
    if not ACCESS_KEY_RE.fullmatch(data["AccessKeyId"]) or any(c.isspace() for c in data["SecretAccessKey"]):
        raise AwsMfaError(f"{what} printed a malformed access key id or secret")
    return LongTermKeys(data["AccessKeyId"], data["SecretAccessKey"])


def refuse_long_term_keys(sections: IniSections, name: str, path: str, *, unless: LongTermKeys) -> None:
    """Refuse to overwrite [name] if it holds long-term keys other than the run's own; never advise deleting them."""
    section = sections.get(name, {})
    kind = long_term_kind(section)
    if kind and (section["aws_access_key_id"], section.get("aws_secret_access_key")) != unless:
        raise AwsMfaError(
            f"[{name}] in {path} holds long-term keys {kind}; refusing to overwrite them. "
            f"Move them into a section of their own (e.g. [{name}-old]) and run again"
        )


def keys_to_move(profiles: Profiles, sections: IniSections, *, config: IniSections, path: str) -> LongTermKeys | None:
    """The long-term keys --setup moves out of [short]; None when [long] is already set up. A [long] without
    keys receives them; one with part of a key is refused with what to complete, as a refresh would refuse it."""
    short_name, long_name = profiles
    short_term = sections.get(short_name, {})
    long_term = sections.get(long_name, {})
    in_short_term = long_term_kind(short_term)
    if any(key in long_term for key in KEY_NAMES):
        refuse_inherited_token(sections, long_name, path)
        try:
            keys = long_term_keys(sections, long_name, path)
        except AwsMfaError as error:
            if not in_short_term:
                raise
            raise AwsMfaError(
                f"{error}. [{short_name}] holds a long-term key: if [{long_name}] is meant to hold that one, give it "
                "both its lines, then run aws-mfa"
            ) from None
        if in_short_term and (short_term["aws_access_key_id"], short_term.get("aws_secret_access_key")) != keys:
            raise AwsMfaError(
                f"[{short_name}] and [{long_name}] in {path} hold different long-term keys, and a refresh "
                f"replaces only a copy of [{long_name}]'s; keep the key you use in [{long_name}] and move "
                f"the other's lines into a section of their own (e.g. [{short_name}-old]), then run aws-mfa"
            )
        return None
    if key_program(config, long_name):
        return None
    if not in_short_term:
        add = (
            f"Add 'aws_access_key_id = AKIA...' and 'aws_secret_access_key = ...' to [{long_name}] in {path}"
            if long_name in sections
            else f"Add '[{long_name}]' with 'aws_access_key_id = AKIA...', 'aws_secret_access_key = ...' and "
            f"'aws_mfa_device = arn:aws:iam::ACCOUNT:mfa/NAME' to {path}"
        )
        raise AwsMfaError(
            f"no long-term key to set up: neither [{short_name}] nor [{long_name}] in {path} holds one. {add}, "
            f"or keep the key out of that file with 'credential_process = ...' in [profile {long_name}] of the "
            "config file (see USAGE.md's key programs)"
        )
    refuse_inherited_token(sections, long_name, path)
    if any(key in long_term for key in SESSION_TOKEN_KEYS):
        raise AwsMfaError(
            f"[{long_name}] in {path} holds a session token but no access key, and a long-term section holds no "
            "token; take the token out of it (it was only a session's), then run aws-mfa --setup again"
        )
    # A token left beside the key (`aws configure` over an old session) stays; a refresh replaces it.
    keys_only = {key: value for key, value in short_term.items() if key not in SESSION_TOKEN_KEYS}
    return long_term_keys({short_name: keys_only}, short_name, path)


def move_keys(text: str, profiles: Profiles, *, device: str | None) -> str:
    """[short]'s two key lines, as they are, moved into [long]: a new one right before
    [short]'s header, or the end of the one there is."""
    short_name, long_name = profiles
    lines = split_lines(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    kept: list[str] = []
    moved: list[str] = []
    header = 0
    existing: int | None = None  # [long_name]'s last header, option or continuation line in kept
    for line, info in zip(lines, _classify(lines), strict=True):
        if info.section != short_name:
            kept.append(line)
            if info.section == long_name and info.kind != "other":
                existing = len(kept) - 1
        elif info.kind == "header":
            header = len(kept)
            kept.append(line)
        elif info.key in KEY_NAMES and info.kind == "option":
            moved.append(line if line.endswith(("\n", "\r")) else line + newline)
        else:
            kept.append(line)
    device_line = [f"aws_mfa_device = {device}{newline}"] if device else []
    if existing is None:
        kept[header:header] = [f"[{long_name}]{newline}", *moved, *device_line, newline]
    else:
        if not kept[existing].endswith(("\n", "\r")):
            kept[existing] += newline
        kept[existing + 1 : existing + 1] = [*moved, *device_line]
    return "".join(kept)


def moved_sections(before: IniSections, profiles: Profiles, *, device: str | None) -> dict[str, dict[str, str]]:
    """The two sections move_keys' text must read back as, [long] first."""
    short_name, long_name = profiles
    short_term = dict(before[short_name])
    # A new section inherits [DEFAULT]'s keys, as every section does in configparser.
    long_term = {
        **before.get(long_name, before.get(configparser.DEFAULTSECT, {})),
        **{key: short_term.pop(key) for key in KEY_NAMES},
    }
    return {long_name: {**long_term, **({"aws_mfa_device": device} if device else {})}, short_name: short_term}


def mask_secrets(text: str) -> list[str]:
    """The file's lines, without line endings, every secret value replaced by ****."""
    lines = split_lines(text)
    masked = []
    for line, info in zip(lines, _classify(lines), strict=True):
        if info.key in SECRET_NAMES and info.kind == "option":
            line = _replace_value(line, "****")
        elif info.key in SECRET_NAMES:
            line = line[: len(line) - len(line.lstrip())] + "****"
        masked.append(line.rstrip("\r\n"))
    return masked


def session_values(credentials: SessionCredentials, role: str | None) -> dict[str, str | None]:
    """The keys written to the short-term section; None removes a key."""
    return {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
        "aws_session_token": credentials.session_token,
        # botocore reads aws_security_token before aws_session_token: keep them equal.
        "aws_security_token": credentials.session_token,
        "expiration": format_expiration(credentials.expiration),
        ROLE_KEY: role,
    }


def config_header(name: str, config: IniSections) -> str:
    """The header of a profile's config section, as it is in the file or as it would be written."""
    import shlex  # only for a message

    return config_profiles(config).get(name, f"profile {shlex.quote(name)}")


# The config object last looked up and its profiles: some 20 look-ups a run, each would read every header.
_profiles_seen: tuple[object, dict[str, str]] = (None, {})


def config_profiles(config: IniSections) -> dict[str, str]:
    """Each profile of the config file and the section botocore reads it from.

    botocore splits a header starting with "profile" like a shell ([profile "my work"] is `my work`), and
    one of other than two words is no profile. Of two naming one profile ([default] and [profile default]
    too), it takes the later one whole, none of the other's keys.
    """
    global _profiles_seen
    seen, profiles = _profiles_seen
    if seen is not config:
        profiles = {}
        for section in config:
            if section == DEFAULT_PROFILE:
                profiles[section] = section
            elif section.startswith("profile"):
                words = _shell_words(section)
                if len(words) == 2:
                    profiles[words[1]] = section
        _profiles_seen = (config, profiles)
    return profiles


def _shell_words(text: str) -> list[str]:
    """text split as shlex.split splits it (none if it cannot), without shlex for plain words."""
    if not any(quote in text for quote in "'\"\\"):
        return re.findall(r"[^ \t\r\n]+", text)
    import shlex  # only for a quoted profile name

    try:
        return shlex.split(text)
    except ValueError:  # an unclosed quote
        return []


def _checked(source: Source | None, parse: Callable[[str], T]) -> T | None:
    if source is None:
        return None
    try:
        return parse(source.value)
    except argparse.ArgumentTypeError as error:
        raise AwsMfaError(f"{source.origin}: {error}; nothing was run") from None


def _described(source: Source | None, seconds: int, default: str) -> str:
    """A duration setting for a message: its seconds and where they came from."""
    if source is None:
        where = default
    elif source.level == FLAG:
        where = "from the command line"
    else:
        where = f"from {source.origin}"
    return f"{seconds} s, {where}"


def check_durations(settings: Settings, warn: Callable[[str], None]) -> None:
    """Refuse a role session longer than AssumeRole gives; warn when no session could outlast --min-remaining."""
    duration = settings.duration or (ROLE_DURATION if settings.assume_role else DEFAULT_DURATION)
    default = "the default with a role" if settings.assume_role else "the default"
    asked = _described(settings.origins["duration"], duration, default)
    if settings.assume_role and duration > MAX_ROLE_DURATION:
        raise UsageError(
            f"--duration ({asked}) is longer than AssumeRole allows ({MAX_ROLE_DURATION} s, 12h); "
            f"pass a --duration of at most 12h for {settings.assume_role}"
        )
    if settings.min_remaining >= duration:
        kept = _described(settings.origins["min_remaining"], settings.min_remaining, "the default")
        warn(
            f"--min-remaining ({kept}) is not shorter than --duration ({asked}): a new session is never kept, "
            "every run refreshes"
        )


def resolve_settings(
    profiles: Profiles, *, given: Mapping[str, object], env: Mapping[str, str], config: IniSections, path: str
) -> Settings:
    """Every setting of SETTINGS, checked; a bad value names where it came from."""
    sections = [section for section in map(config_profiles(config).get, profiles) if section is not None]

    def origin(setting: Setting) -> Source | None:
        """The flag, else the environment variable, else the profiles' config sections."""
        if setting.dest in given:
            return Source(str(given[setting.dest]), setting.flag, FLAG)
        if env.get(setting.variable):
            return Source(env[setting.variable], setting.variable, ENVIRONMENT)
        for section in sections:
            for key in setting.keys:
                if config[section].get(key) is not None:
                    return Source(config[section][key], f"{key} in [{section}] of {path}", FILE)
        return None

    origins = {setting.dest: origin(setting) for setting in SETTINGS}
    helper = None
    # The OTP command beats 1Password, unless 1Password was set more directly (a flag over the
    # config file). Only the one in effect is checked: a flag overrules a bad value in the file.
    otp_command, op_item_name = origins["otp_command"], origins["op_item_name"]
    if otp_command and (op_item_name is None or otp_command.level <= op_item_name.level):
        helper = Helper(_checked(otp_command, command_words) or [], "the OTP command")
    elif op_item_name:
        argv = ["op", "item", "get", _checked(op_item_name, parse_text) or "", "--otp"]
        account = _checked(origins["op_account"], parse_text)
        helper = Helper([*argv, "--account", account] if account else argv, OP_SOURCE)
    min_remaining = _checked(origins["min_remaining"], parse_min_remaining)
    return Settings(
        duration=_checked(origins["duration"], parse_duration),
        min_remaining=_seconds(DEFAULT_MIN_REMAINING) if min_remaining is None else min_remaining,
        assume_role=_checked(origins["assume_role"], role_argument),
        helper=helper,
        origins=origins,
    )


def configured_region(
    profiles: Profiles, *, explicit: str | None, env: Mapping[str, str], config: IniSections, credentials: IniSections
) -> Source | None:
    """The region from the flag, the environment or the files, in botocore's order; None if unset."""
    found = [Source(explicit, "--region", FLAG)] if explicit else []
    found += [Source(env[name], name, ENVIRONMENT) for name in ("AWS_REGION", "AWS_DEFAULT_REGION") if env.get(name)]
    for name in (profiles.long, profiles.short):
        section = config_profiles(config).get(name)
        # botocore lets the credentials file's values win over the config file's.
        if credentials.get(name, {}).get("region"):
            found.append(Source(credentials[name]["region"], f"credentials [{name}]", FILE))
        if section is not None and config[section].get("region"):
            found.append(Source(config[section]["region"], f"config [{section}]", FILE))
    region = found[0] if found else None
    # botocore's own check lets a trailing line break through (its pattern ends in `$`), and the
    # signed request then fails with the request's headers in the message.
    if region and not re.fullmatch(r"[a-z0-9-]+", region.value):
        # A flag's or a variable's bad value is a usage error, as any other's; a file's is not.
        error = AwsMfaError if region.level == FILE else UsageError
        raise error(f"the region {region.value!r} from {region.origin} is not a region name such as eu-west-1")
    return region


def mfa_device(
    profiles: Profiles, *, explicit: str | None, env: Mapping[str, str], config: IniSections, credentials: IniSections
) -> Source | None:
    """The MFA device serial: the flag, the environment, the long-term section, the profiles' sections."""
    short_name, long_name = profiles
    if explicit:
        return Source(explicit, "--device", FLAG)
    if env.get("AWS_MFA_DEVICE"):
        return Source(env["AWS_MFA_DEVICE"], "AWS_MFA_DEVICE", ENVIRONMENT)
    for name in (long_name, short_name):
        # botocore reads a credentials section as part of the profile of its name, over the config
        # file's; before --setup, [short_name] is where `aws configure` left the keys and the device.
        for key in ("aws_mfa_device", "mfa_serial"):
            if credentials.get(name, {}).get(key):
                return Source(credentials[name][key], f"{key} in [{name}]", FILE)
        section = config_profiles(config).get(name)
        if section is not None and config[section].get("mfa_serial"):
            return Source(config[section]["mfa_serial"], f"mfa_serial in config [{section}]", FILE)
    return None


def command_line(profiles: Profiles, *options: str) -> str:
    """The aws-mfa command for this pair of profiles, to show in a message."""
    import shlex  # only for messages that suggest a command

    short_name, long_name = profiles
    argv = ["aws-mfa", *options]
    if short_name != DEFAULT_PROFILE:
        argv += ["-p", short_name]
    if long_name[len(short_name) :] != DEFAULT_SUFFIX:
        argv.append(f"--long-term-suffix={long_name[len(short_name) :]}")  # one word: the suffix may start with -
    return shlex.join(argv)


def clock_skew(date: str | None, now: float) -> float | None:
    """Seconds this machine's clock runs ahead of a server's HTTP Date (negative: behind); None if unreadable."""
    import email.utils  # only after STS refused a code or a signature

    try:
        moment = email.utils.parsedate_to_datetime(date or "")
        # A Date without a zone (-0000) is still UTC, not this machine's local time.
        return now - (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    except (TypeError, ValueError, OverflowError):  # < 3.12: TypeError for an unreadable date
        return None


def describe_skew(skew: float) -> str:
    # An HTTP Date has whole seconds and the answer took a moment: no more precision than that.
    for unit, seconds in (("days", 86400), ("h", 3600), ("min", 60)):
        if abs(skew) >= 2 * seconds:
            span = f"about {round(abs(skew) / seconds)} {unit}"
            break
    else:
        span = f"{round(abs(skew))} s"
    return (
        f"This machine's clock is {span} {'ahead of' if skew > 0 else 'behind'} STS's: codes from programs on "
        "this machine and request signatures depend on the clock; set it right (turn on NTP) and run again"
    )


def check_code(code: str, origin: str) -> str:
    code = code.strip()
    if not CODE_RE.fullmatch(code):
        raise AwsMfaError(f"{origin} gave something that is not a six-digit code")
    return code


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- thin edges that do I/O ------------------------------------------------------


def _tell(text: str) -> None:
    """One line for a person on stderr; dropped when stderr is closed or broken. Not print's default:
    with stderr closed, print(file=None) would write to stdout, into what `eval "$(aws-mfa --env)"` runs."""
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):  # a broken pipe, a closed stream
            print(text, file=sys.stderr, flush=True)


def _emit(text: str) -> None:
    """Data for a program on stdout (--env, --credential-process, --status, --dry-run, --help)."""
    if sys.stdout is None:  # started with stdout closed (>&-): print() would drop the text unsaid
        raise AwsMfaError("standard output is closed, so there is nowhere to print to")
    try:
        print(text, end="", flush=True)
    except OSError as error:
        # The reader went away (`| head -c1`) or the disk is full: keep the exit's flush from failing too.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise AwsMfaError(f"cannot write to standard output: {error.strerror or error}") from None
    except UnicodeEncodeError:  # a path of undecodable bytes, on a stdout that takes no escapes
        raise AwsMfaError(f"cannot print this in the encoding of standard output ({sys.stdout.encoding})") from None


def _isatty(stream: TextIO | None) -> bool:
    return stream is not None and not stream.closed and stream.isatty()


def _in_foreground(terminal: int) -> bool:
    """Whether this process is in the terminal's foreground process group (True if that is unknown)."""
    try:
        return os.tcgetpgrp(terminal) == os.getpgrp()
    except OSError:  # ENOTTY: not this process's controlling terminal
        return True


class _Messages(NamedTuple):
    verbosity: int  # 0 quiet, 1 normal, 2 verbose
    # Under an SDK, which captures stderr: notices for the person go to the controlling terminal.
    to_terminal: bool = False

    def say(self, text: str, level: int = 1) -> None:
        if self.verbosity >= level:
            _tell(f"aws-mfa: {text}")

    def notice(self, text: str, *, watched_only: bool = False) -> None:
        """A notice for a person (waiting, a hint, a retry); watched_only: dropped when nobody sees it."""
        if self.verbosity < 1:
            return
        on_terminal = _isatty(sys.stderr)
        if self.to_terminal and not on_terminal:
            # No controlling terminal (cron, CI): stderr, like everything else.
            with contextlib.suppress(OSError), open(CONTROLLING_TERMINAL, "w") as terminal:
                # Not from a background job (`aws ... &`), which SIGTTOU would stop under `stty tostop`.
                if _in_foreground(terminal.fileno()):
                    print(f"aws-mfa: {text}", file=terminal, flush=True)
                    return
        if on_terminal or not watched_only:
            self.say(text)

    def warn(self, text: str) -> None:
        _tell(f"aws-mfa: warning: {text}")


def in_background(function: Callable[[], T]) -> Callable[[float | None], T]:
    """Start function in a daemon thread; wait(timeout) gives its value or error, or raises TimeoutError.
    Where no thread can be started (a low RLIMIT_NPROC), the function runs at once, in this thread."""
    import threading  # only the refresh path needs threads
    from concurrent.futures import Future

    future: Future[T] = Future()

    def run(caught: type[BaseException] = BaseException) -> None:
        try:
            future.set_result(function())
        except caught as error:  # handed to the caller of wait()
            future.set_exception(error)

    try:
        threading.Thread(target=run, daemon=True).start()
    except RuntimeError:  # "can't start new thread": done here and now, where Ctrl-C or SIGTERM stops it at once
        run(Exception)
    return future.result


def bounded(call: Callable[[], T], late: AwsMfaError) -> T:
    """The call's result, or `late` raised once ANSWER_DEADLINE has passed (the call is left behind).
    A network call needs it: the read timeout bounds each read, and an answer may trickle in for ever."""
    from concurrent.futures import TimeoutError  # the builtin one only from Python 3.11

    try:
        return in_background(call)(ANSWER_DEADLINE)
    except TimeoutError:
        raise late from None


def read_bytes(path: str) -> bytes | None:
    """A file's bytes; None if it does not exist; AwsMfaError if it cannot be read."""
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever.
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NONBLOCK)) as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise _not_a_file(path)
            # One byte past the limit too: a file that grows outruns st_size.
            data = b"" if info.st_size > MAX_FILE_BYTES else file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:  # open() refuses a directory
        raise AwsMfaError(f"{path} is a directory, not a file") from None
    except OSError as error:
        if error.errno == errno.ENXIO:  # a socket cannot be opened
            raise _not_a_file(path) from None
        raise _Unreadable(f"cannot read {path}: {error.strerror}") from None
    if info.st_size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
        raise AwsMfaError(f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB, too large for a credentials file")
    return data


class _Unreadable(AwsMfaError):
    """A file that exists (or may) but cannot be opened: permissions, a link loop, a file as a directory."""


def _not_a_file(path: str) -> AwsMfaError:
    return AwsMfaError(f"{path} is not a regular file (a FIFO, device or socket); point to a file")


def readable_by_others(path: str) -> int | None:
    """The file's permission bits when group or others may read it, else None."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return None
    return mode if mode & 0o077 else None


def decode(data: bytes, path: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        raise AwsMfaError(
            f"{path} starts with a byte-order mark, which botocore cannot read; save it as UTF-8 without BOM"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise AwsMfaError(f"{path}: line {line} is not valid UTF-8; fix the file, nothing was written") from None


def read_text(path: str) -> str | None:
    """A credentials/config file as text; None if it is missing."""
    data = read_bytes(path)
    return decode(data, path) if data is not None else None


def start_helper(argv: Sequence[str], timeout: float, what: str, messages: _Messages) -> Callable[[], str]:
    """Start `op` or an OTP program now; the call returned waits for its six-digit code."""
    finish = start_program(argv, timeout, what, "code", messages)
    return lambda: check_code(finish(), what)


def start_program(
    argv: Sequence[str], timeout: float, what: str, wanted: str, messages: _Messages
) -> Callable[[], str]:
    """Start a helper program now (before boto's import, so it runs meanwhile): without a shell, stdin closed,
    output captured and capped. The call returned waits for what it printed (or raises AwsMfaError)."""
    import subprocess  # not needed on the skip, status and help paths
    import threading

    # Its own process group, so that it and whatever it starts can be ended together; in our
    # session still, so 1Password's app integration recognises the terminal it runs for.
    group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
    started = time.monotonic()
    marker = f"{os.getpid()}:{os.urandom(4).hex()}"
    try:
        with _HELPERS_LOCK:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={**os.environ, HELPER_VARIABLE: marker},
                **group,
            )
            _HELPERS[process] = marker
    except (OSError, ValueError) as error:
        if not isinstance(error, FileNotFoundError):
            reason = f"cannot run {argv[0]!r}: {getattr(error, 'strerror', None) or error}"
        elif os.path.dirname(argv[0]):  # a path: PATH was not searched
            reason = f"{argv[0]!r} does not exist"
        else:
            # cron, launchd and systemd search a short PATH: say which, so the fix is plain.
            reason = f"{argv[0]!r} was not found on PATH={os.environ.get('PATH', os.defpath)}"
        return _failed(AwsMfaError(f"{what}: {reason}"))
    out, err = bytearray(), bytearray()
    readers = [
        threading.Thread(target=_collect, args=(stream, buffer, process), daemon=True)
        for stream, buffer in ((process.stdout, out), (process.stderr, err))
    ]
    # PERF: a blocking wait in a thread reports the exit at once; Popen.wait(timeout) polls every 50 ms.
    exited = threading.Event()

    def wait_for_exit() -> None:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        _reap(process)
        exited.set()

    try:
        for thread in (*readers, threading.Thread(target=wait_for_exit, daemon=True)):
            thread.start()
    except RuntimeError:  # "can't start new thread": the user's process limit (RLIMIT_NPROC) is reached
        _reap(process)
        return _failed(AwsMfaError(f"{what}: no thread could be started to wait for it (too many processes)"))

    def finish() -> str:
        try:
            # Event.wait returns at once for a timeout already past.
            notice_at = started + min(WAIT_NOTICE_AFTER, timeout)
            if not exited.wait(notice_at - time.monotonic()) and timeout > WAIT_NOTICE_AFTER:
                messages.notice(f"waiting for {what} (approve the request if it asks)...", watched_only=True)
            if not exited.wait(started + timeout - time.monotonic()):
                raise AwsMfaError(f"{what} gave no {wanted} within {timeout:g} s")
        finally:
            # Timed out, or interrupted (Ctrl-C, SIGTERM) while waiting: ended before its pipes are awaited.
            end_helpers(process)
            for reader in readers:
                # A daemon it started outside the group may keep the pipe open: its reader is left behind.
                reader.join(1.0)
        if len(out) > HELPER_OUTPUT_LIMIT:
            raise AwsMfaError(f"{what} printed more than {HELPER_OUTPUT_LIMIT // 1024} KiB, which is no {wanted}")
        if process.returncode != 0:
            detail = _shorten(err.decode("utf-8", "replace")) or "no message"
            how = f"exit {process.returncode}" if process.returncode > 0 else f"killed by signal {-process.returncode}"
            raise AwsMfaError(f"{what} failed ({how}): {detail}")
        return out.decode("utf-8", "replace")

    return finish


def _failed(error: AwsMfaError) -> Callable[[], str]:
    def failed() -> str:
        raise error

    return failed


# Helper programs whose exit is not yet collected (once it is, their group id may be reused), with
# their HELPER_VARIABLE; main() ends them on every way out.
_HELPERS: dict[Any, str] = {}
_HELPERS_LOCK = _thread.allocate_lock()


def _reap(process: Any) -> None:
    """Kill what is left of a helper's process group, then collect its exit: while the helper is a zombie
    not yet collected, its group id cannot be reused, so the group can be ended safely."""
    with _HELPERS_LOCK:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, 9)  # SIGKILL; the signal module is not loaded for this alone
        del _HELPERS[process]
        process.wait()


def end_helpers(*only: Any) -> None:
    """End the helpers still running (those given, else all) with all they started; main() calls it on every way out."""
    with _HELPERS_LOCK:
        for process in _HELPERS.keys() & set(only or _HELPERS):
            _end_tree(process)


def _end_tree(process: Any) -> None:
    """End a helper ended early with all it started: SIGTERM, a moment to clean up, SIGKILL. That is its
    process group, and on Linux what left the group (setsid, as a daemon does, or another aws-mfa's helper),
    found by the HELPER_VARIABLE it inherited; left running: on macOS, what left the group; anywhere, what
    also cleared its environment. The caller holds _HELPERS_LOCK, so the helper is not reaped meanwhile and
    its group id stays its own."""
    import signal

    marker = _HELPERS[process]
    for number in (signal.SIGTERM, signal.SIGKILL):
        for pid in _marked(marker):
            with contextlib.suppress(OSError):
                if os.getpgid(pid) != process.pid:  # the group gets it below, once: a handler runs once
                    os.kill(pid, number)
        with contextlib.suppress(OSError):
            os.killpg(process.pid, number)
        if number == signal.SIGTERM:
            _await_exit(process.pid, HELPER_END_GRACE)


def _marked(marker: str) -> list[int]:
    """The processes whose environment holds this helper's HELPER_VARIABLE (Linux's /proc; elsewhere none)."""
    entry = f"{HELPER_VARIABLE}={marker}".encode()
    try:
        names = os.listdir("/proc")
    except OSError:  # pragma: no cover (macOS: no /proc)
        return []
    found = []
    for name in filter(str.isdigit, names):
        # Another user's process, or one that has just ended: not ours to end.
        with contextlib.suppress(OSError), open(f"/proc/{name}/environ", "rb") as environment:
            if entry in environment.read().split(b"\0"):
                found.append(int(name))
    return found


def _await_exit(pid: int, grace: float) -> None:
    """Wait up to grace seconds for a helper to exit, without reaping it; a signal meanwhile is ignored: the
    run is ending the helper already, and a second Ctrl-C must not break into that with a traceback."""
    import signal

    numbers = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = None
    with contextlib.suppress(ValueError):  # only the main thread handles signals
        previous = [signal.signal(number, signal.SIG_IGN) for number in numbers]
    try:
        deadline = time.monotonic() + grace
        with contextlib.suppress(ChildProcessError):  # reaped already
            while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
    finally:
        for number, handler in zip(numbers, previous or (), strict=False):
            signal.signal(number, handler)


def _collect(stream: IO[bytes], into: bytearray, process: Any) -> None:
    """Read a helper's output until it ends; one that floods it is ended instead of filling memory."""
    with stream:
        while chunk := os.read(stream.fileno(), 65536):
            if len(into) > HELPER_OUTPUT_LIMIT:
                end_helpers(process)
            else:
                into += chunk


def prompt_code(device: str, *, terminal_only: bool = False) -> str:
    """Ask on the terminal (a few tries), or read one line when stdin is not a terminal; terminal_only
    (credential_process, whose stdin and stdout belong to the SDK): the controlling terminal or nothing."""
    stdin, line = sys.stdin, ""
    if terminal_only or (_isatty(stdin) and sys.stderr is None):  # no stderr: ask where the person is
        try:
            # Two streams: a terminal cannot be opened "r+" (it cannot seek).
            with open(CONTROLLING_TERMINAL) as answers, open(CONTROLLING_TERMINAL, "w") as questions:
                return _ask(answers, questions, device)
        except OSError:
            pass  # no terminal: no code
    elif _isatty(stdin):
        assert sys.stderr is not None  # else the controlling terminal was asked above
        return _ask(stdin, sys.stderr, device)
    elif stdin is not None and not stdin.closed:
        line = _read_line(stdin)
    if not line.strip():
        raise AwsMfaError(
            "no MFA code: no terminal to ask on and nothing on standard input; pass --code, "
            "set --otp-command, or set the 1Password item with --op-item-name (and --op-account)"
        )
    return check_code(line, "standard input")


def _read_line(stream: TextIO) -> str:
    try:
        return stream.readline(LINE_LIMIT)  # `aws-mfa < /dev/zero` has no line end
    except UnicodeDecodeError:  # bytes that are not text: certainly no code
        return "\ufffd\n"


def _ask(answers: TextIO, questions: TextIO, device: str) -> str:
    for _ in range(PROMPT_ATTEMPTS):
        _show(questions, f"MFA code for {device}: ")
        line = _read_line(answers)
        if not line:
            raise AwsMfaError("no MFA code: the input ended (Ctrl-D) before a code was typed")
        if CODE_RE.fullmatch(line.strip()):
            return line.strip()
        _show(questions, "aws-mfa: that is not a six-digit code; try again\n")
    raise AwsMfaError(f"no six-digit code after {PROMPT_ATTEMPTS} tries")


def _show(questions: TextIO, text: str) -> None:
    """The prompt: a stderr that is gone or full (`2>/dev/full`) must not end the run."""
    with contextlib.suppress(OSError, ValueError):
        print(text, end="", file=questions, flush=True)


def get_code(
    given: str | None,
    pending: Callable[[], str] | None,
    device: str,
    messages: _Messages,
    *,
    terminal_only: bool = False,
) -> tuple[str, bool]:
    """The code and whether it came from a program (which can be asked again)."""
    if given:
        return given, False
    if pending:
        try:
            return pending(), True
        except AwsMfaError as error:
            messages.warn(f"{error}; asking for the code instead")
    return prompt_code(device, terminal_only=terminal_only), False


def _metadata_disabled(env: Mapping[str, str]) -> bool:
    return env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true"


def imds_region(env: Mapping[str, str], budget: float = IMDS_BUDGET) -> str | None:
    """The instance's region from IMDSv2, given at most `budget` seconds; None otherwise."""
    if _metadata_disabled(env):
        return None
    endpoint = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or (
        IMDS_IPV6_ENDPOINT
        if env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "").lower() == "ipv6"
        else IMDS_DEFAULT_ENDPOINT
    )
    # A socket timeout bounds each step, not the whole; the wait for the thread bounds the whole.
    probe = in_background(lambda: _imds_fetch_region(endpoint.rstrip("/"), budget))
    try:
        return probe(budget)
    except Exception:  # an instance without IMDS is the usual case, not an error; so is no answer in time
        return None


def _imds_fetch_region(endpoint: str, timeout: float) -> str | None:
    import http.client  # only when no region is configured
    import urllib.parse

    url = urllib.parse.urlsplit(endpoint)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=timeout)
    try:
        connection.request(
            "PUT", f"{url.path}/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        )
        response = connection.getresponse()
        token = response.read().decode("ascii", "replace")
        if response.status != 200:
            return None
        connection.request(
            "GET", f"{url.path}/latest/meta-data/placement/region", headers={"X-aws-ec2-metadata-token": token}
        )
        response = connection.getresponse()
        region = response.read().decode("ascii", "replace").strip()
        return region if response.status == 200 and re.fullmatch(r"[a-z0-9-]+", region) else None
    finally:
        connection.close()


def aws_client(
    service: str, keys: Callable[[], LongTermKeys], region: str | None, long_name: str, credentials_path: str
) -> Any:
    """A client that signs with the long-term keys only and never retries (botocore is imported
    before the keys are asked for, so a program printing them runs during the import)."""
    import botocore.session  # imported here: help, status and the skip path stay fast
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ProfileNotFound

    session = botocore.session.Session()
    # Naming the long-term profile keeps an AWS_PROFILE naming a missing profile from failing the client.
    session.set_config_variable("credentials_file", credentials_path)
    session.set_config_variable("profile", long_name)
    # Without a region, "legacy" maps us-east-1 to the global sts.amazonaws.com and signs
    # for us-east-1 (botocore's "aws-global" would sign for "aws-global" at an override URL).
    session.set_config_variable("sts_regional_endpoints", "regional" if region else "legacy")
    try:
        # PERF: botocore lists every service directory it ships (some 400: 2,700 stat calls, a tenth
        # of a refresh, by strace -c) only to check that the model it loads is among them; these are.
        session.get_component("data_loader").list_available_services = lambda type_name: ["sts", "iam"]
        long_term = keys()
        return session.create_client(
            service,
            region_name=region or "us-east-1",
            aws_access_key_id=long_term.access_key_id,
            aws_secret_access_key=long_term.secret_access_key,
            aws_session_token=None,
            config=Config(
                connect_timeout=STS_CONNECT_TIMEOUT,
                read_timeout=STS_READ_TIMEOUT,
                # One attempt: a retry would replay a one-time code that STS has already seen.
                retries={"total_max_attempts": 1, "mode": "standard"},
            ),
        )
    except ProfileNotFound:  # botocore reads the files again: another program changed one meanwhile
        raise AwsMfaError(f"[{long_name}] is gone from {credentials_path} since aws-mfa read it; run again") from None
    except (BotoCoreError, ValueError) as error:  # ValueError: an endpoint URL that is no URL
        name = service.upper()
        raise AwsMfaError(
            f"cannot set up the {name} client: {_shorten(str(error))}; check the region, "
            f"AWS_ENDPOINT_URL_{name} and AWS_ENDPOINT_URL"
        ) from None


class Request(NamedTuple):
    """What to ask STS for: a session (GetSessionToken) or a role (AssumeRole)."""

    device: str
    duration: int
    role: str | None = None
    role_session_name: str | None = None
    external_id: str | None = None


class CodeRejected(AwsMfaError):
    """STS refused the one-time code itself; a program that gave it may be asked again. clock_first: the
    error to give instead when the code came from a program here, whose clock is off enough to be the cause."""

    def __init__(self, message: str, clock_first: str | None = None) -> None:
        super().__init__(message)
        self.clock_first = clock_first


def request_session(client: STSClient, request: Request, code: str, long_name: str) -> SessionCredentials:
    """One STS call with the code; its credentials, or AwsMfaError in plain words."""
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    try:
        response: GetSessionTokenResponseTypeDef | AssumeRoleResponseTypeDef
        if request.role:
            extra = {"ExternalId": request.external_id} if request.external_id else {}
            response = client.assume_role(
                RoleArn=request.role,
                RoleSessionName=request.role_session_name or "aws-mfa",
                DurationSeconds=request.duration,
                SerialNumber=request.device,
                TokenCode=code,
                **extra,  # type: ignore[arg-type]
            )
        else:
            response = client.get_session_token(
                DurationSeconds=request.duration, SerialNumber=request.device, TokenCode=code
            )
    except ClientError as error:
        if not error.response.get("Error"):  # an error page, not an STS error
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            raise _not_sts(client.meta.endpoint_url, f" (HTTP {status})") from None
        explained = _explain_client_error(error, request.device, long_name)
        if explained == CODE_REJECTED or error.response.get("Error", {}).get("Code") in SIGNATURE_ERRORS:
            headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            skew = clock_skew(headers.get("date"), time.time())
            if skew is not None and abs(skew) > CLOCK_SKEW_LIMIT:
                details = error.response.get("Error", {})
                said = f"{_shorten(details.get('Code') or 'error')}: {_shorten(details.get('Message') or 'no message')}"
                clock_first = f"{describe_skew(skew)} (STS refused: {said})"
                if explained == CODE_REJECTED:
                    # Whether the clock is the cause depends on where the code came from: the caller knows.
                    raise CodeRejected(f"{explained}. {describe_skew(skew)}", clock_first) from None
                # STS takes signatures up to 5 minutes off: within that, the secret is the likelier cause.
                raise AwsMfaError(
                    clock_first if abs(skew) > SIGNATURE_SKEW_LIMIT else f"{explained}. {describe_skew(skew)}"
                ) from None
        raise (CodeRejected if explained == CODE_REJECTED else AwsMfaError)(explained) from None
    except BotoCoreError as error:
        raise AwsMfaError(_explain_botocore_error(error, client.meta.endpoint_url)) from None
    except (ResponseParserError, KeyError, TypeError, AttributeError, ValueError, OverflowError):
        # Not XML, or XML botocore's parser trips over (a proxy's page, a date it cannot read).
        raise _not_sts(client.meta.endpoint_url) from None
    return check_answer(response, client.meta.endpoint_url, datetime.now(timezone.utc))


def _not_sts(where: str, detail: str = "") -> AwsMfaError:
    return AwsMfaError(
        f"the answer from {where} is not an STS response{detail}; check proxies and AWS_ENDPOINT_URL_STS"
    )


def check_answer(response: Mapping[str, Any], where: str, now: datetime) -> SessionCredentials:
    """The credentials in STS's answer, refused unless every later run and every SDK can read them back."""
    try:
        credentials = response["Credentials"]
        session = SessionCredentials(
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
            credentials["Expiration"].astimezone(timezone.utc),
        )
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError):
        # XML that is not STS's (a proxy, a captive portal): botocore parses it, the keys are missing.
        raise _not_sts(where) from None
    problems = [
        f"{what} is {'empty' if not value else 'malformed'}"
        for what, value, pattern in (
            ("the access key id", session.access_key_id, ACCESS_KEY_RE),
            ("the secret access key", session.secret_access_key, SECRET_RE),
            ("the session token", session.session_token, SECRET_RE),
        )
        if not (isinstance(value, str) and pattern.fullmatch(value))
    ]
    if str(session.access_key_id).startswith("AKIA"):
        # moto's GetSessionToken answers so; every later run would refuse it as long_term_kind says.
        problems.append("the access key id is a long-term one (AKIA...), which a session never has")
    if session.expiration <= now:
        problems.append(f"it expired at {format_local(session.expiration)} by this machine's clock")
    elif (session.expiration - now).total_seconds() > 2 * MAX_DURATION:
        problems.append(f"it expires at {format_local(session.expiration)}, later than any session")
    if problems:
        raise AwsMfaError(f"STS at {where} answered with credentials that cannot be used: {'; '.join(problems)}")
    return session


def _explain_client_error(error: Exception, device: str, long_name: str) -> str:
    details = getattr(error, "response", {}).get("Error", {})
    code = _shorten(details.get("Code") or "")
    message = _shorten(details.get("Message") or "")
    lowered = message.lower()
    if "invalid mfa one time pass code" in lowered:
        return CODE_REJECTED
    if "mfa serial number" in lowered or "unable to validate mfa code" in lowered:
        return f"STS does not accept MFA device {device} for this access key; check aws_mfa_device in [{long_name}]"
    if "session credentials" in lowered:
        return f"[{long_name}] holds session credentials; STS needs the IAM user's long-term access key there"
    if "maxsessionduration" in lowered:
        return "the role allows shorter sessions than asked; pass a shorter --duration (e.g. 1h) or raise its maximum"
    if code == "InvalidClientTokenId":
        return f"STS does not know the access key in [{long_name}] (wrong, deleted or inactive); check it in IAM"
    if code == "SignatureDoesNotMatch":
        return f"the secret access key in [{long_name}] does not match its access key id; copy it again"
    if code == "ExpiredToken":
        return f"the credentials in [{long_name}] have expired; put a long-term access key there"
    return f"STS refused: {code or 'error'}: {message or 'no message'}"


def discover_device(keys: LongTermKeys, region: str | None, long_name: str, credentials_path: str) -> str:
    """The one usable MFA device of the key's user, from iam:ListMFADevices."""
    where = f"pass --device or add aws_mfa_device to [{long_name}]"
    try:
        usable = usable_devices_in_time(keys, region, long_name, credentials_path)
    except DevicesUnknown as error:
        raise AwsMfaError(f"{error}; {where}") from None
    if not usable:
        raise AwsMfaError(f"no MFA device configured, and the user has no virtual or hardware MFA device; {where}")
    if len(usable) > 1:
        raise AwsMfaError(f"several MFA devices: {', '.join(usable)}; choose one: {where}")
    return usable[0]


class DevicesUnknown(AwsMfaError):
    """IAM did not say which MFA devices the key's user has (refused, unreachable, not IAM, too slow)."""


def usable_devices_in_time(keys: LongTermKeys, region: str | None, profile: str, credentials_path: str) -> list[str]:
    """usable_devices, or DevicesUnknown when IAM is too slow: a slow IAM is one that did not say."""
    late = DevicesUnknown(f"no MFA device configured and IAM did not finish answering within {ANSWER_DEADLINE:g} s")
    return bounded(lambda: usable_devices(keys, region, profile, credentials_path), late)


def usable_devices(keys: LongTermKeys, region: str | None, profile: str, credentials_path: str) -> list[str]:
    """The key's user's MFA devices that give codes, from iam:ListMFADevices (`profile`: one that exists)."""
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    client = aws_client("iam", lambda: keys, region, profile, credentials_path)
    try:
        devices = client.list_mfa_devices()["MFADevices"]
        serials: list[str] = [device["SerialNumber"] for device in devices]
        if not all(isinstance(serial, str) and DEVICE_RE.fullmatch(serial) for serial in serials):
            raise TypeError
    except ClientError as error:
        reason = (
            error.response.get("Error", {}).get("Code")
            or f"HTTP {error.response['ResponseMetadata']['HTTPStatusCode']}"
        )
        raise DevicesUnknown(f"no MFA device configured and IAM would not list them ({reason})") from None
    except BotoCoreError as error:
        raise DevicesUnknown(f"no MFA device configured and IAM could not be asked: {_shorten(str(error))}") from None
    except (ResponseParserError, KeyError, TypeError, AttributeError, ValueError):
        raise DevicesUnknown(
            f"no MFA device configured, and the answer from {client.meta.endpoint_url} is not an IAM response "
            "(check proxies and AWS_ENDPOINT_URL_IAM)"
        ) from None
    # FIDO keys (u2f) cannot give a code that STS accepts.
    return [serial for serial in serials if ":u2f/" not in serial]


def _explain_botocore_error(error: Exception, endpoint: str) -> str:
    details = getattr(error, "kwargs", {})
    if details.get("proxy_url"):  # botocore masks a password in it
        return (
            f"could not reach STS at {endpoint} through the proxy {details['proxy_url']}; check the proxy, "
            "HTTPS_PROXY and NO_PROXY"
        )
    if url := details.get("endpoint_url"):
        return (
            f"could not reach STS at {url} ({type(error).__name__}); check the network, region or AWS_ENDPOINT_URL_STS"
        )
    return f"STS call failed: {_shorten(str(error))}"


@contextlib.contextmanager
def _locked(real: str) -> Iterator[tuple[int, int]]:
    """Under an exclusive lock beside the file, so runs serialise, its directory made: who owns the file."""
    _make_directory(os.path.dirname(real))
    owner = _owner(real)
    lock_path = f"{real}.aws-mfa.lock"
    descriptor = _open_lock(lock_path)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise AwsMfaError(f"lock file {lock_path} is not a regular file; remove it and run again")
        if info.st_nlink > 1:  # a hard link to someone's file, planted for us to chmod and chown
            raise AwsMfaError(f"lock file {lock_path} has other names (hard links); remove it and run again")
        # A umask such as 0277 would leave a lock file no later run can open for writing.
        if info.st_mode & 0o777 != 0o600:
            with contextlib.suppress(OSError):  # best effort: another user's lock file still locks
                os.fchmod(descriptor, 0o600)
        _keep_owner(descriptor, owner)
        deadline = time.monotonic() + LOCK_TIMEOUT
        while not _try_lock(descriptor):
            if time.monotonic() > deadline:
                raise AwsMfaError(f"another aws-mfa has held {lock_path} for {LOCK_TIMEOUT:g} s; try again")
            time.sleep(0.02)
        yield owner
    finally:
        os.close(descriptor)  # closing releases the lock


def _open_lock(lock_path: str) -> int:
    # Read-write: NFS emulates flock with byte-range locks, which need a writable descriptor. No
    # following a link (a planted one would make us create its target), no waiting on a FIFO.
    with contextlib.suppress(OSError):
        info = os.lstat(lock_path)
        # Ours, but read-only: an odd umask did that in older releases. Mended by name: only root in
        # root's directories, or a user in the user's own (_as_writer), gets here.
        if info.st_uid == os.geteuid() and stat.S_ISREG(info.st_mode) and info.st_mode & 0o600 != 0o600:
            os.chmod(lock_path, 0o600)
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise AwsMfaError(f"lock file {lock_path} is a symbolic link; remove it and run again") from None
        if error.errno in (errno.EISDIR, errno.ENXIO):  # a directory; a socket
            raise AwsMfaError(f"lock file {lock_path} is not a regular file; remove it and run again") from None
        raise AwsMfaError(f"cannot open lock file {lock_path}: {error.strerror}") from None


class _Denied(AwsMfaError):
    """What the user may not do (the kernel's refusals are AwsMfaErrors from a PermissionError)."""


def _owner(real: str) -> tuple[int, int]:
    """Who must own the file after a write: its owner, or for a new file the directory's; not another user."""
    exists = os.path.lexists(real)
    try:
        info = os.stat(real if exists else os.path.dirname(real))
    except OSError as error:
        raise AwsMfaError(f"cannot write {real}: {error.strerror}; the file is unchanged") from None
    if os.geteuid() in (0, info.st_uid):
        return info.st_uid, info.st_gid
    if exists:
        raise _Denied(
            f"{real} belongs to uid {info.st_uid}, and a file written by this user would not; run aws-mfa as that "
            "user. The file is unchanged"
        )
    raise _Denied(
        f"{os.path.dirname(real)} belongs to uid {info.st_uid}, and {real} does not exist: a file made there "
        f"by this user would not belong to uid {info.st_uid} as the directory does; run aws-mfa as that user, "
        "or give the directory to this user. Nothing was written"
    )


def _keep_owner(descriptor: int, owner: tuple[int, int]) -> None:
    """The owner and group of the file before (root does not take a user's file), where allowed:
    a user not in the file's group keeps the new file in their own."""
    info = os.fstat(descriptor)
    if (info.st_uid, info.st_gid) != owner:
        with contextlib.suppress(PermissionError):
            os.fchown(descriptor, *owner)


def _make_directory(directory: str) -> None:
    """The credentials file's directory, made 0700 if missing, as `aws configure` makes ~/.aws."""
    try:
        os.mkdir(directory, 0o700)
        # A umask such as 0277 would leave 0500, every later run locked out. By descriptor, not
        # following a link: where others may write (a group's directory of root's), the new one
        # could be swapped for a link to something else before a chmod by name.
        try:
            descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except PermissionError:  # a umask without the owner's read bit, and not root: only our own
            os.chmod(directory, 0o700)
        else:
            os.fchmod(descriptor, 0o700)
            os.close(descriptor)
    except FileExistsError:
        pass
    except OSError as error:
        raise AwsMfaError(f"cannot create {directory}: {error.strerror}") from None


def _resolved(path: str) -> str:
    """path with its links followed: the write replaces the target, so a symlink stays a symlink."""
    try:
        return os.path.realpath(path)
    except OSError:  # a link turned into a file between lstat and readlink (before Python 3.13, which ignores it)
        raise AwsMfaError(f"{path} changed while aws-mfa followed it; run again. The file is unchanged") from None


def _writer(path: str) -> tuple[int, int] | None:
    """The user (uid, gid) other than root who owns a directory or link on the way to path, links followed:
    that user can swap what follows for a link to anything at any moment, so a root run writes as that user."""
    owners: dict[int, int] = {}
    try:
        parts = (path if os.path.isabs(path) else f"{os.getcwd()}/{path}").split("/")
    except OSError as error:  # the working directory was removed
        raise AwsMfaError(f"cannot find {path} from the working directory: {error.strerror}") from None
    resolved, links = "/", 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        resolved = os.path.dirname(resolved) if part == ".." else os.path.join(resolved, part)
        try:
            info = os.lstat(resolved)
        except OSError:  # missing: the write makes it, as that user
            continue
        if info.st_uid and (stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode)):
            owners.setdefault(info.st_uid, info.st_gid)
        if stat.S_ISLNK(info.st_mode) and links < 40:  # more: a loop, which the write reports
            links += 1
            with contextlib.suppress(OSError):  # no link any more: swapped, and its owner is known
                target = os.readlink(resolved)
                parts[:0] = target.split("/")
                resolved = "/" if target.startswith("/") else os.path.dirname(resolved)
    if len(owners) > 1:
        first, second = list(owners)[:2]
        raise AwsMfaError(
            f"the way to {path} passes through directories or links of uid {first} and of uid {second}; "
            "run aws-mfa as one of them. The file is unchanged"
        )
    return next(iter(owners.items()), None)


@contextlib.contextmanager
def _as_writer(path: str) -> Iterator[None]:
    """As root, the block run with the effective uid, gid and groups of path's _writer, if any."""
    writer = _writer(path) if os.geteuid() == 0 else None
    if writer is None:
        yield
        return
    # Imported as root: the user may not be able to read the interpreter's library (under /root).
    import fcntl  # noqa: F401
    import pwd
    import shlex  # noqa: F401 (messages)

    uid, gid = writer
    groups: list[int] = []
    with contextlib.suppress(KeyError):  # no passwd entry: the group of what the uid owns, alone
        user = pwd.getpwuid(uid)
        gid, groups = user.pw_gid, os.getgrouplist(user.pw_name, user.pw_gid)
    root_gid, root_groups = os.getegid(), os.getgroups()
    try:
        try:
            os.setgroups(groups)
            os.setegid(gid)
            os.seteuid(uid)
        except PermissionError:  # no CAP_SETUID or CAP_SETGID: a container's bounding set, a user namespace
            raise _CannotSwitch(
                f"{path} is on the way of uid {uid}, and this root may not act as uid {uid} (no CAP_SETUID or "
                f"CAP_SETGID); run aws-mfa as uid {uid}. The file is unchanged"
            ) from None
        yield
    except _CannotSwitch:
        raise
    except AwsMfaError as error:
        if not isinstance(error, _Denied) and not isinstance(error.__context__, PermissionError):
            raise
        # An unreadable config file stays one the run goes on without (_read_config).
        reading = isinstance(error, _Unreadable)
        kind, verb, end = (_Unreadable, "read", "") if reading else (AwsMfaError, "write", "; the file is unchanged")
        raise kind(
            f"cannot {verb} {_resolved(path)}: permission denied (as root, aws-mfa reads and writes in uid {uid}'s "
            f"directories with uid {uid}'s permissions){end}"
        ) from None
    finally:
        # A signal's exception (Stopped, Ctrl-C) comes once a run and may break into one of the two.
        try:
            _be_root(root_gid, root_groups)
        finally:
            _be_root(root_gid, root_groups)


class _CannotSwitch(AwsMfaError):
    """Root without the capabilities to act as another user."""


def _read_as_writer(path: str) -> str | None:
    """read_text as the write would be made: as root, a user who swaps a link to root's file in for the
    read would otherwise get root's keys (or settings, or key program) used for the session."""
    with _as_writer(path):
        return read_text(path)


def _be_root(gid: int, groups: list[int]) -> None:
    """Back to root's ids, changing only what changed: a root that could not switch may not set them."""
    if os.geteuid() != 0:
        os.seteuid(0)
    if os.getegid() != gid:
        os.setegid(gid)
    if os.getgroups() != groups:
        os.setgroups(groups)


def check_writable(path: str) -> None:
    """What would stop the write, found before a one-time code is spent on STS."""
    with _as_writer(path):
        real = _resolved(path)
        if _nothing_to_create_yet(real):
            return
        with _locked(real):
            directory = os.path.dirname(real)
            # The temporary copy is made beside the file: a directory this user may not write in
            # would fail it only after the one-time code was spent (the lock file may exist already).
            if not os.access(directory, os.W_OK | os.X_OK, effective_ids=True):
                raise _Denied(
                    f"cannot write in {directory}: permission denied; make it writable, the file is unchanged"
                )


def _nothing_to_create_yet(real: str) -> bool:
    """Neither the file nor its lock exists, and nothing would stop the write from creating them: then
    a run that fails before its write leaves HOME as it found it. If unsure, False (check_writable creates them)."""
    if os.path.lexists(real) or os.path.lexists(f"{real}.aws-mfa.lock"):
        return False
    directory = os.path.dirname(real)
    if os.path.isdir(directory):
        if os.geteuid() not in (0, os.stat(directory).st_uid):
            return False  # another user's directory: the new file would be theirs
        where = directory
    else:
        where = os.path.dirname(directory)  # where _make_directory would create it
    return os.path.isdir(where) and os.access(where, os.W_OK | os.X_OK, effective_ids=True)


def _try_lock(descriptor: int) -> bool:
    import fcntl

    try:
        # flock, not lockf: its lock belongs to the open file, so threads exclude each other too.
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _fsync_directory(directory: str) -> None:
    # Best effort: some filesystems refuse to sync a directory; one of mode 0300 cannot be opened.
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_atomically(path: str, compose: Callable[[str], str], *, private: bool = False) -> None:
    """Replace `path` with compose(current text), under a lock, all or nothing.

    Composed again if another program changes the file meanwhile. The mode stays (a new file's is
    0600); `private` takes away what group and others could do. SIGTERM and SIGHUP end it as Ctrl-C
    does, through its clean-up: no mode leaves its temporary copy, which holds secrets, behind.
    """
    with _signals_stop_the_run(), _as_writer(path):
        real = _resolved(path)
        directory, name = os.path.split(real)
        with _locked(real) as owner:
            _remove_stale_temporaries(directory, name)
            for _ in range(WRITE_ATTEMPTS):
                # One read: the bytes compared before replacing are the bytes composed from.
                before = read_bytes(real)
                data = compose(decode(before, real) if before is not None else "").encode("utf-8")
                # Named before it exists, unlike tempfile.mkstemp's: the clean-up below removes it
                # even when a signal comes right after it was made.
                temporary = os.path.join(directory, f".{name}.aws-mfa-{os.urandom(6).hex()}.tmp")
                try:
                    mode = os.stat(real).st_mode & 0o7777 if before is not None else 0o600
                    if private and mode & 0o077:  # execute, set-id and sticky bits mean nothing here either
                        mode = 0o600
                    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                    with open(descriptor, "wb") as file:
                        _keep_owner(descriptor, owner)
                        file.write(data)
                        file.flush()
                        os.fsync(descriptor)
                        os.chmod(descriptor, mode)
                    if read_bytes(real) == before:
                        os.replace(temporary, real)
                        break
                    os.unlink(temporary)  # someone wrote the file meanwhile: compose again from theirs
                except BaseException as error:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)
                    if isinstance(error, OSError):
                        raise AwsMfaError(f"cannot write {real}: {error.strerror}; the file is unchanged") from None
                    raise
            else:
                raise AwsMfaError(f"{real} kept changing while aws-mfa wrote it; nothing was written, run again")
            _fsync_directory(directory)


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Temporaries a killed run left behind; we hold the lock, so none is in use."""
    prefix = f".{name}.aws-mfa-"
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            if entry.startswith(prefix) and entry.endswith(".tmp"):
                os.unlink(os.path.join(directory, entry))


# --- main ------------------------------------------------------------------------


def _expand(path: str) -> str:
    """Expand a path as botocore does, so both read the same file."""
    return os.path.expanduser(os.path.expandvars(path))


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own, told the width."""

    # PERF: left to itself it imports shutil (and with it bz2, lzma and zlib: 4 ms by
    # python -X importtime) on every start just to ask for the terminal's width.

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """shutil.get_terminal_size().columns without shutil: $COLUMNS, stdout's terminal, 80."""
    with contextlib.suppress(ValueError):
        if int(os.environ.get("COLUMNS", "0")) > 0:
            return int(os.environ["COLUMNS"])
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def _from_env(env: Mapping[str, str], names: Sequence[str]) -> str:
    """For --help: the value the first set variable gives, else nothing."""
    for name in names:
        if env.get(name):
            # argparse %-formats help texts: a % in the value must reach --help as itself.
            return f"{env[name]} from {name}; else ".replace("%", "%%")
    return ""


class _Variable(str):
    """An environment variable's value as an argparse default, told apart from a value the flag gave."""


def _from_variable(
    env: Mapping[str, str], name: str, parse: Callable[[str], object], default: str | None = None
) -> dict[str, Any]:
    """add_argument's options for a flag whose default is the variable's value, checked as the flag's is."""

    def check(text: str) -> object:
        try:
            return parse(text)
        except argparse.ArgumentTypeError as error:
            if not isinstance(text, _Variable):
                raise
            # argparse prefixes a type's error with the flag; an error with no argument has none.
            raise argparse.ArgumentError(None, f"{name}: {error}") from None

    check.__name__ = parse.__name__  # argparse names the type in some of its messages
    return {"type": check, "action": _Given, "default": _Variable(env.get(name) or "") or default}


class _Given(argparse.Action):
    """Stores the value and notes that the command line gave it: a flag beats every other source."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = {**namespace.given, self.dest: values}


def _build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aws-mfa",
        formatter_class=_HelpFormatter,
        description=(
            "Get temporary AWS credentials with an MFA code: reads the long-term keys of "
            "[PROFILE-long-term] and writes a session into [PROFILE] of the credentials file. "
            "Settings may also be kept per profile in the config file (aws_mfa_duration, "
            "aws_mfa_otp_command, ...; see USAGE.md)."
        ),
        epilog="Every option, the config file, recipes and exit codes: see USAGE.md.",
    )
    parser.set_defaults(given={})
    files = parser.add_argument_group("profiles and files")
    files.add_argument(
        "-c",
        "--credentials-path",
        metavar="PATH",
        default=env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        help="the credentials file (env AWS_SHARED_CREDENTIALS_FILE; default: %(default)s)",
    )
    files.add_argument(
        "-p",
        "--profile",
        help="the profile to write (env AWS_MFA_PROFILE, then AWS_PROFILE except with --credential-process; "
        "default: " + _from_env(env, ("AWS_MFA_PROFILE", "AWS_PROFILE")) + f"{DEFAULT_PROFILE})",
        **_from_variable(env, "AWS_MFA_PROFILE", profile_name),
    )
    files.add_argument(
        "--long-term-suffix",
        metavar="SUFFIX",
        help="the long-term profile is PROFILE+SUFFIX (env AWS_MFA_LONG_TERM_SUFFIX; default: %(default)s)",
        **_from_variable(env, "AWS_MFA_LONG_TERM_SUFFIX", long_term_suffix, DEFAULT_SUFFIX),
    )
    session = parser.add_argument_group("the session")
    if env.get("AWS_SESSION_DURATION"):
        duration = "%(default)s"
    elif env.get("AWS_MFA_ASSUME_ROLE"):
        duration = f"{ROLE_DURATION}, for the role in AWS_MFA_ASSUME_ROLE"
    else:
        duration = f"{DEFAULT_DURATION}, or {ROLE_DURATION} with --assume-role"
    session.add_argument(
        "-d",
        "--duration",
        help=f"session length, in seconds or as 15m, 12h, 1h30m; 15m to 36h "
        f"(env AWS_SESSION_DURATION; default: {duration})",
        **_from_variable(env, "AWS_SESSION_DURATION", parse_duration),
    )
    session.add_argument(
        "--region",
        help="STS region (default: "
        + _from_env(env, ("AWS_REGION", "AWS_DEFAULT_REGION"))
        + "AWS_REGION, AWS_DEFAULT_REGION, the profiles' region, instance metadata, "
        "else the global endpoint)",
    )
    session.add_argument(
        "--assume-role",
        metavar="ARN",
        help="call AssumeRole with MFA instead of GetSessionToken (env AWS_MFA_ASSUME_ROLE; default: %(default)s)",
        **_from_variable(env, "AWS_MFA_ASSUME_ROLE", role_argument),
    )
    session.add_argument(
        "--role-session-name",
        metavar="NAME",
        type=role_session_name_argument,
        help="with --assume-role (default: aws-mfa-USER)",
    )
    session.add_argument(
        "--external-id", metavar="ID", type=external_id_argument, help="with --assume-role, if the role wants one"
    )
    session.add_argument("-f", "--force", action="store_true", help="refresh even if the session is still valid")
    session.add_argument(
        "--min-remaining",
        metavar="DURATION",
        help="keep a session that has more than this left (env AWS_MFA_MIN_REMAINING; default: %(default)s)",
        **_from_variable(env, "AWS_MFA_MIN_REMAINING", parse_min_remaining, DEFAULT_MIN_REMAINING),
    )
    code = parser.add_argument_group("the MFA device and code")
    code.add_argument(
        "--device",
        metavar="SERIAL",
        help="MFA device ARN or hardware serial (env AWS_MFA_DEVICE; default: "
        + _from_env(env, ("AWS_MFA_DEVICE",))
        + "aws_mfa_device or mfa_serial of the profile, else the one device IAM lists)",
        **_from_variable(env, "AWS_MFA_DEVICE", device_argument),
    )
    code.add_argument("-t", "--code", type=code_argument, help="the six-digit code; nothing is asked")
    # Only the program: its arguments may hold a TOTP seed (oathtool -b SEED).
    command = shown_command(env["AWS_MFA_OTP_COMMAND"]) if env.get("AWS_MFA_OTP_COMMAND") else "None"
    code.add_argument(
        "--otp-command",
        metavar="COMMAND",
        help="a program that prints the code, e.g. 'ykman oath accounts code -s aws'; run without a shell "
        f"(env AWS_MFA_OTP_COMMAND; default: {command.replace('%', '%%')})",
        **_from_variable(env, "AWS_MFA_OTP_COMMAND", command_argument),
    )
    code.add_argument(
        "--op-account",
        metavar="ACCOUNT",
        help="1Password account, e.g. my.1password.com (env AWS_MFA_UPDATER_OP_ACCOUNT; default: %(default)s)",
        **_from_variable(env, "AWS_MFA_UPDATER_OP_ACCOUNT", parse_text),
    )
    code.add_argument(
        "--op-item-name",
        metavar="ITEM",
        help="1Password item whose one-time password is the MFA code; without one the code is asked for "
        "(env AWS_MFA_UPDATER_OP_ITEM_NAME; default: %(default)s)",
        **_from_variable(env, "AWS_MFA_UPDATER_OP_ITEM_NAME", parse_text),
    )
    code.add_argument(
        "--otp-timeout",
        metavar="SECONDS",
        help="how long 1Password, the OTP command or the long-term key's credential_process may take "
        "(env AWS_MFA_OTP_TIMEOUT; default: %(default)s)",
        **_from_variable(env, "AWS_MFA_OTP_TIMEOUT", parse_timeout, f"{DEFAULT_OTP_TIMEOUT:g}"),
    )
    modes = parser.add_argument_group("instead of a plain refresh").add_mutually_exclusive_group()
    for mode, about in (
        ("--status", "print the session's state; exit 0 if valid, else 1"),
        ("--env", "refresh if due, then print export lines for eval"),
        ("--credential-process", "refresh if due, then print credential_process JSON"),
        ("--setup", "first run: move the keys `aws configure` wrote in [PROFILE] to a new [PROFILE-long-term]"),
        ("--clear", "remove the session from [PROFILE]; no network"),
        ("--list", "print every profile pair and its session; no network"),
    ):
        modes.add_argument(mode, action="store_true", help=about)
    parser.add_argument_group("with a refresh or --setup").add_argument(
        "--dry-run", action="store_true", help="print what would be done; ask, call and write nothing"
    )
    output = parser.add_argument_group("messages")
    loudness = output.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also say where the MFA device and the region came from (with --dry-run, every setting)",
    )
    output.add_argument("-V", "--version", action="version", version=f"aws-mfa {__version__}")
    return parser


class Plan(NamedTuple):
    """Everything resolved before anything is asked, called or written."""

    path: str
    profiles: Profiles
    keys: LongTermKeys | Helper  # from the credentials file, or the program that prints them
    sections: IniSections  # the credentials file as first read
    device: Source | None
    region: Source | None
    code: str | None
    otp_timeout: float
    request: Request
    terminal_only: bool
    settings: Settings


def _role_session_name() -> str:
    import getpass  # only with --assume-role

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container with an unknown uid)
        user = "user"
    # RoleSessionName allows [\w+=,.@-], 2 to 64 characters.
    return re.sub(r"[^\w+=,.@-]", "-", f"aws-mfa-{user}")[:64]


def _make_plan(
    args: argparse.Namespace,
    profiles: Profiles,
    *,
    env: Mapping[str, str],
    path: str,
    sections: IniSections,
    config: IniSections,
    settings: Settings,
    keys: LongTermKeys | Helper,
) -> Plan:
    role = settings.assume_role
    request = Request(
        device="",
        duration=settings.duration or (ROLE_DURATION if role else DEFAULT_DURATION),
        role=role,
        role_session_name=(args.role_session_name or _role_session_name()) if role else None,
        external_id=args.external_id if role else None,
    )
    return Plan(
        path=path,
        profiles=profiles,
        keys=keys,
        sections=sections,
        device=_checked_device(
            mfa_device(profiles, explicit=args.given.get("device"), env=env, config=config, credentials=sections)
        ),
        region=configured_region(profiles, explicit=args.region, env=env, config=config, credentials=sections),
        code=args.code,
        otp_timeout=args.otp_timeout,
        request=request,
        terminal_only=args.credential_process,
        settings=settings,
    )


def _checked_device(device: Source | None) -> Source | None:
    if device and not DEVICE_RE.fullmatch(device.value):
        raise AwsMfaError(
            f"the MFA device {device.value!r} ({device.origin}) is not an MFA device ARN or serial number"
        )
    return device


def _describe(plan: Plan, kept: SessionCredentials | None, now: datetime, verbose: bool, env: Mapping[str, str]) -> str:
    """The --dry-run report; verbose adds every setting and where it came from."""
    import shlex  # only for --dry-run

    helper = plan.settings.helper
    if plan.code:
        code = "--code"
    elif helper:
        # An OTP command's arguments may hold the TOTP seed (oathtool -b SECRET): they stay unprinted.
        shown = shlex.join(helper.argv) if helper.what == OP_SOURCE else f"{helper.argv[0]} ..."
        code = f"{helper.what}: {shown} (the prompt if it fails)"
    elif sys.stdin is not None and not sys.stdin.closed and sys.stdin.isatty():
        code = "a prompt on the terminal"
    else:
        code = "one line from standard input"
    request = plan.request
    call = f"AssumeRole {request.role} as {request.role_session_name}" if request.role else "GetSessionToken"
    if request.external_id:  # only with a role
        call += " with an external id"
    if plan.region:
        region = f"{plan.region.value} ({plan.region.origin})"
    elif _metadata_disabled(env):  # a refresh then never asks it
        region = "none configured: the global endpoint (instance metadata is off: AWS_EC2_METADATA_DISABLED)"
    else:
        region = "none configured: instance metadata, else the global endpoint"
    lines = {
        "credentials file": plan.path,
        "profiles": f"[{plan.profiles.long}] -> [{plan.profiles.short}]",
        "long-term keys": f"[{plan.profiles.long}] of the credentials file"
        if isinstance(plan.keys, LongTermKeys)
        else f"{plan.keys.what} in the config file, run only when a refresh is due",
        "MFA device": f"{plan.device.value} ({plan.device.origin})" if plan.device else "ask IAM (ListMFADevices)",
        "region": region,
        "code": code,
        "call": f"{call} for {request.duration} s",
        "refresh": f"not due: {_valid_until(kept.expiration, now)}" if kept else "due",
    }
    for setting in SETTINGS if verbose else ():
        source = plan.settings.origins[setting.dest]
        if source is None:
            lines[setting.flag] = f"{setting.default} (built-in default)"
        else:
            # Like the code line above: the command's arguments may hold a TOTP seed.
            value = shown_command(source.value) if setting.dest == "otp_command" else source.value
            lines[setting.flag] = f"{value} ({source.origin})"
    return "".join(f"{name}: {value}\n" for name, value in lines.items())


def _start_keys(plan: Plan, messages: _Messages) -> Callable[[], LongTermKeys]:
    """The long-term keys: the file's, or the program's, started now (awaited in a thread, so that the
    main thread and the thread building the STS client can both wait for it)."""
    if isinstance(plan.keys, LongTermKeys):
        file_keys = plan.keys
        return lambda: file_keys
    what = plan.keys.what
    finish = start_program(plan.keys.argv, plan.otp_timeout, what, "access key", messages)
    answer = in_background(lambda: process_keys(finish(), what))
    return lambda: answer(None)


def spliced(current: str, fresh: Sections, section: str, values: Mapping[str, str | None], path: str) -> str:
    """The file's text with one section's keys set or removed, checked by reading it back."""
    new_text = splice_section(current, section, values)
    verify_splice(fresh, new_text, section, values, path)
    return new_text


def _refresh(plan: Plan, env: Mapping[str, str], messages: _Messages) -> SessionCredentials:
    """Ask for the code, call STS, write the short-term section; the new session."""
    mode = readable_by_others(plan.path)
    if mode:
        can = " and ".join(word for word, bits in (("read", 0o044), ("changed", 0o022)) if mode & bits) or "run"
        messages.warn(f"{plan.path} can be {can} by other users (mode {mode:o}); chmod 600 it")
    check_writable(plan.path)
    long_term = _start_keys(plan, messages)
    if plan.device:
        device = plan.device.value
        messages.say(f"MFA device: {device} ({plan.device.origin})", 2)
    else:
        device = discover_device(long_term(), plan.region.value if plan.region else None, plan.profiles.long, plan.path)
        where = (
            f"'aws_mfa_device = {device}' to [{plan.profiles.long}]"
            if isinstance(plan.keys, LongTermKeys)
            else f"'mfa_serial = {device}' to [profile {plan.profiles.long}] of the config file"
        )
        messages.notice(f"using MFA device {device}; to skip this look-up, add {where}")
    request = plan.request._replace(device=device)

    def build_client() -> STSClient:
        found = plan.region.value if plan.region else imds_region(env)
        if plan.region:
            origin = plan.region.origin
        elif _metadata_disabled(env):
            origin = "instance metadata is off: AWS_EC2_METADATA_DISABLED"
        else:
            origin = "instance metadata" if found else "no answer from instance metadata"
        messages.say(f"region: {found or 'none, the global endpoint'} ({origin})", 2)
        sts: STSClient = aws_client("sts", long_term, found, plan.profiles.long, plan.path)
        return sts

    helper = plan.settings.helper
    pending = start_helper(helper.argv, plan.otp_timeout, helper.what, messages) if helper and not plan.code else None
    client = in_background(build_client)
    # A failing key program stops the run here: before the prompt, with nothing called.
    refuse_long_term_keys(plan.sections, plan.profiles.short, plan.path, unless=long_term())
    code, automatic = get_code(plan.code, pending, device, messages, terminal_only=plan.terminal_only)
    sts = client(None)
    try:
        credentials = _in_time(lambda: request_session(sts, request, code, plan.profiles.long), "STS")
    except CodeRejected as rejected:
        if not (automatic and helper):
            raise
        if rejected.clock_first:  # the program's next code would be just as far off: no retry
            raise AwsMfaError(rejected.clock_first) from None
        # The program may have printed a code at the end of its window: wait for the next.
        wait = TOTP_PERIOD - time.time() % TOTP_PERIOD + 1
        messages.notice(f"STS rejected the code from {helper.what}; trying the next one in {wait:.0f} s")
        time.sleep(wait)
        code = start_helper(helper.argv, plan.otp_timeout, helper.what, messages)()
        credentials = _in_time(lambda: request_session(sts, request, code, plan.profiles.long), "STS")
    values = session_values(credentials, request.role)

    def compose(current: str) -> str:
        fresh = parse_ini(current, plan.path)
        # The file's long-term keys are read again, as another program may have changed them.
        keys = (
            long_term_keys(fresh, plan.profiles.long, plan.path) if isinstance(plan.keys, LongTermKeys) else long_term()
        )
        if keys != long_term():  # a session goes only where the keys that made it are
            raise AwsMfaError(
                f"the long-term key in [{plan.profiles.long}] of {plan.path} changed while aws-mfa ran; nothing "
                "was written, run again"
            )
        refuse_long_term_keys(fresh, plan.profiles.short, plan.path, unless=keys)
        return spliced(current, fresh, plan.profiles.short, values, plan.path)

    write_atomically(plan.path, compose)
    return credentials


def _in_time(call: Callable[[], T], service: str) -> T:
    """The call's result, or an error once ANSWER_DEADLINE has passed (the call is left behind)."""
    from concurrent.futures import TimeoutError  # the builtin one only from Python 3.11

    try:
        return in_background(call)(ANSWER_DEADLINE)
    except TimeoutError:
        raise AwsMfaError(
            f"{service} did not finish answering within {ANSWER_DEADLINE:g} s; check the network, proxy and endpoint"
        ) from None


def _session_state(section: Mapping[str, str] | None, now: datetime) -> tuple[str | None, bool]:
    """'valid until ... (... left)' or 'expired at ...' (None: no session), and whether it is valid."""
    session = session_in(section)
    if session is None:
        return None, False
    if session.expiration <= now:
        return f"expired at {format_local(session.expiration)}", False
    return _valid_until(session.expiration, now), True


def _status(name: str, section: Mapping[str, str] | None, now: datetime) -> int:
    state, valid = _session_state(section, now)
    _emit(f"[{name}] {state or 'has no session'}\n")
    return 0 if valid else 1


def _clear(path: str, name: str, messages: _Messages, suffix: str) -> int:
    """Remove the session (and its role) from [name]; every other byte stays."""
    sections = parse_ini(_read_as_writer(path) or "", path)
    if not any(key in sections.get(name, {}) for key in CLEARED_KEYS):
        messages.say(f"[{name}] in {path} holds no session; nothing to clear")
        return 0
    values = dict.fromkeys(CLEARED_KEYS)

    def compose(current: str) -> str:
        fresh = parse_ini(current, path)
        _refuse_to_clear_keys(fresh, name, suffix, path)
        return spliced(current, fresh, name, values, path)

    _refuse_to_clear_keys(sections, name, suffix, path)
    write_atomically(path, compose)
    messages.say(f"removed the session from [{name}] in {path}")
    return 0


def _refuse_to_clear_keys(sections: IniSections, name: str, suffix: str, path: str) -> None:
    """--clear never removes a long-term key, nor advises to: say what the section is, and what to run instead."""
    kind = long_term_kind(sections.get(name))
    if not kind:
        return
    short_name = _short_name(name, suffix)
    if short_name is not None:
        clear = command_line(Profiles(short_name, name), "--clear")
        hint = f"it is the long-term section of [{short_name}], whose session {clear} removes"
    elif name + suffix not in sections:
        setup = command_line(Profiles(name, name + suffix), "--setup")
        hint = f"to use them with aws-mfa, run {setup} to move them to [{name + suffix}]"
    else:
        hint = f"[{name}] holds no session to remove"
    raise AwsMfaError(
        f"[{name}] in {path} holds long-term keys {kind}; --clear removes only a session, never a long-term key: {hint}"
    )


def _setup(
    args: argparse.Namespace,
    profiles: Profiles,
    *,
    env: Mapping[str, str],
    path: str,
    text: str,
    config: IniSections,
    messages: _Messages,
) -> int:
    """First run: move `aws configure`'s keys from [P] into a new [P-long-term], with the device."""
    short_name, long_name = profiles
    sections = parse_ini(text, path)
    keys = keys_to_move(profiles, sections, config=config, path=path)
    in_file = any(sections.get(long_name, {}).get(key) for key in KEY_NAMES)
    if keys is None:
        where = f"[{long_name}] of {path}" if in_file else f"the config file's [{config_header(long_name, config)}]"
        messages.say(f"already set up: the long-term key comes from {where}; run {command_line(profiles)}")
        if long_term_kind(sections.get(short_name)) and not in_file:
            messages.warn(
                f"[{short_name}] in {path} still holds an access key; a refresh replaces it only if it is the key "
                "credential_process prints"
            )
        return 0
    mode = readable_by_others(path)
    explicit = args.given.get("device")
    device = _checked_device(mfa_device(profiles, explicit=explicit, env=env, config=config, credentials=sections))
    # A device [long_name] records already stays the one it records: a second line would break the file.
    recorded = any(sections.get(long_name, {}).get(key) for key in ("aws_mfa_device", "mfa_serial"))
    written = None if recorded or not device else device.value
    # What needs no network is refused before IAM is asked, and by a dry run as by the real one.
    after = _setup_text(text, profiles, keys, config=config, device=written, path=path)
    if args.dry_run:
        import difflib  # only for --setup --dry-run

        _owner(_resolved(path))  # another user's file is refused as by a real run
        diff = difflib.unified_diff(
            mask_secrets(text), mask_secrets(after), path, f"{path} after aws-mfa --setup", lineterm=""
        )
        notes = [] if device else ["aws_mfa_device: asked of IAM (ListMFADevices) when run without --dry-run"]
        _emit("".join(f"{line}\n" for line in [*diff, *notes, *([f"mode: {mode:o} -> 600"] if mode else [])]))
        return 0
    check_writable(path)
    if not device:
        region = configured_region(profiles, explicit=args.region, env=env, config=config, credentials=sections)
        written = _setup_device(profiles, keys, region=region.value if region else None, path=path, messages=messages)
    write_atomically(
        path,
        lambda current: _setup_text(current, profiles, keys, config=config, device=written, path=path),
        private=True,
    )
    if mode:
        messages.say(f"{path} could be read by other users (mode {mode:o}); it is now 600")
    device_note = f" with aws_mfa_device = {written}" if written else ""
    target = f"[{long_name}]" if long_name in sections else f"a new [{long_name}]"
    messages.say(f"moved the long-term key of [{short_name}] to {target}{device_note} in {path}")
    messages.say(f"next: run {command_line(profiles)} to put a session into [{short_name}]")
    return 0


def _setup_text(
    current: str, profiles: Profiles, keys: LongTermKeys, *, config: IniSections, device: str | None, path: str
) -> str:
    """--setup's new text for the file as it is now, checked by reading it back."""
    fresh = parse_ini(current, path)
    if keys_to_move(profiles, fresh, config=config, path=path) != keys:
        raise AwsMfaError(f"{path} changed while aws-mfa set it up; nothing was written, run aws-mfa --setup again")
    new_text = move_keys(current, profiles, device=device)
    verify_text(fresh, new_text, changed=moved_sections(fresh, profiles, device=device), path=path)
    return new_text


def _setup_device(
    profiles: Profiles, keys: LongTermKeys, *, region: str | None, path: str, messages: _Messages
) -> str | None:
    """The one usable device IAM lists for the keys being moved; None (said) when it lists none or refuses."""
    later = (
        f"add 'aws_mfa_device = ARN' to [{profiles.long}] (IAM console, Security credentials) or pass --device on "
        "every run"
    )
    try:
        # [profiles.long] does not exist yet; botocore wants a profile that does.
        usable = usable_devices_in_time(keys, region, profiles.short, path)
    except DevicesUnknown as error:
        messages.warn(f"{error}; moving the keys without it: {later}")
        return None
    if len(usable) > 1:
        command = command_line(profiles, "--setup", "--device", "SERIAL")
        raise AwsMfaError(f"several MFA devices: {', '.join(usable)}; run {command} with one; nothing was written")
    if not usable:
        messages.warn(f"IAM lists no virtual or hardware MFA device for this key; once it has one, {later}")
        return None
    return usable[0]


def _list(args: argparse.Namespace, path: str, *, env: Mapping[str, str], now: datetime, messages: _Messages) -> int:
    """One line per profile pair: where its long-term keys are, its device, its session, its role."""
    suffix = args.long_term_suffix
    config_path, config = _read_config(env, messages)
    sections = parse_ini(_read_as_writer(path) or "", path)
    # Each pair's short name (one `-p NAME` takes) and where its long-term keys come from: keys in the
    # credentials file win over the config profile's credential_process, as in a refresh.
    pairs = {
        short: f"[{name}] of {path}"
        for name in sections
        if (short := _short_name(name, suffix)) and keys_in_file(sections[name])
    }
    for name, section_name in config_profiles(config).items():
        short = _short_name(name, suffix)
        if short and config[section_name].get("credential_process") and not keys_in_file(sections.get(name)):
            pairs[short] = f"credential_process of [{section_name}] in {config_path}"
    if not pairs:
        messages.say(
            f"no profile pairs in {path} or {config_path} (long-term keys in [NAME{suffix}] or a "
            f"credential_process in [profile NAME{suffix}], the session in [NAME])"
        )
    for short_name, keys in pairs.items():
        profiles = Profiles(short_name, short_name + suffix)
        session = sections.get(short_name)
        device = mfa_device(profiles, explicit=args.given.get("device"), env=env, config=config, credentials=sections)
        state, _ = _session_state(session, now)
        role = f"; role {session[ROLE_KEY]}" if session and session.get(ROLE_KEY) else ""
        if device is None:
            shown = "not set (asked of IAM)"
        elif DEVICE_RE.fullmatch(device.value):
            shown = device.value
        else:
            shown = f"malformed ({device.origin})"
        line = f"{short_name}: keys in {keys}; device {shown}; session {state or 'none'}{role}"
        # Names and values come from files: no line break or escape sequence reaches the terminal.
        _emit("".join(c if c.isprintable() else repr(c)[1:-1] for c in line) + "\n")
    return 0


def _warn_of_unread_settings(
    args: argparse.Namespace,
    profiles: Profiles,
    *,
    env: Mapping[str, str],
    sections: IniSections,
    config: IniSections,
    path: str,
    messages: _Messages,
) -> None:
    """Say so when something looks meant to configure this run but is not read."""
    keys = [key for setting in SETTINGS for key in setting.keys]
    misplaced = [f"{key} in [{name}]" for name in profiles for key in keys if key in sections.get(name, {})]
    if misplaced:
        messages.warn(
            f"{', '.join(misplaced)} of {path} is not read: aws-mfa's settings go in the config file, "
            f"[{config_header(profiles.short, config)}] or [{config_header(profiles.long, config)}]"
        )
    ignored = env.get("AWS_PROFILE")
    if args.credential_process and "profile" not in args.given and ignored and ignored != profiles.short:
        other = ignored + args.long_term_suffix
        if other in sections or other in config_profiles(config):
            messages.warn(
                f"AWS_PROFILE={ignored} does not choose the profile with --credential-process (an SDK passes its "
                f"environment on, where AWS_PROFILE names the SDK's profile); this is [{profiles.short}]; "
                f"pass -p {ignored} for [{ignored}]"
            )


def _short_name(long_name: str, suffix: str) -> str | None:
    """The profile whose long-term profile this is, if -p could name it."""
    if not long_name.endswith(suffix):
        return None
    try:
        return profile_name(long_name[: -len(suffix)])
    except argparse.ArgumentTypeError:
        return None


def _read_config(env: Mapping[str, str], messages: _Messages) -> tuple[str, IniSections]:
    """The config file's path and sections: none for a missing file or an empty AWS_CONFIG_FILE, as for
    botocore, nor for an unreadable one (said here, as botocore does not)."""
    path = _expand(env.get("AWS_CONFIG_FILE", "~/.aws/config"))
    if not path:
        return "the config file (none: AWS_CONFIG_FILE is empty)", {}
    if os.path.realpath(path) == os.devnull:  # AWS_CONFIG_FILE=/dev/null: no config, as for the aws CLI
        return path, {}
    if os.path.exists(path) and not os.path.isfile(path):
        # botocore reads no config from a directory, FIFO or device: every mode going on stops no one.
        messages.warn(f"{path} is not a regular file; going on without it, as the AWS CLI does")
        return path, {}
    try:
        return path, parse_ini(_read_as_writer(path) or "", path)
    except _Unreadable as error:
        messages.warn(f"{error}; going on without it, as the AWS CLI does")
        return path, {}


def _run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if env.get(HELPER_VARIABLE):
        pid = env[HELPER_VARIABLE].partition(":")[0]
        raise AwsMfaError(
            f"this run was started by a helper program of aws-mfa (PID {pid}) and would start the next without "
            "end: a key program or OTP command must not run aws-mfa"
        )
    output_mode = args.env or args.credential_process
    if sys.stdout is None and (output_mode or args.status or args.dry_run or args.list):
        raise AwsMfaError("standard output is closed, so there is nowhere to print to")
    messages = _Messages(0 if args.quiet else 2 if args.verbose else 1, to_terminal=args.credential_process)
    # A program reads --env's or --credential-process's output: the line about the session is for -v.
    said = 2 if output_mode else 1
    profile = args.profile
    path = _expand(args.credentials_path)
    now = datetime.now(timezone.utc)
    if args.list:
        return _list(args, path, env=env, now=now, messages=messages)
    if args.clear:
        return _clear(path, profile, messages, args.long_term_suffix)
    text = _read_as_writer(path)
    sections = parse_ini(text or "", path)
    profiles = Profiles(profile, profile + args.long_term_suffix)
    if args.status:
        if text is None:
            raise AwsMfaError(f"{path} does not exist; create it with a [{profiles.long}] section")
        return _status(profile, sections.get(profile), now)
    # The config file may set --min-remaining and --assume-role, so even the skip path reads it.
    config_path, config = _read_config(env, messages)
    if args.setup:
        with _signals_stop_the_run():
            return _setup(args, profiles, env=env, path=path, text=text or "", config=config, messages=messages)
    keys = long_term_source(profiles, sections, config=config, path=path, exists=text is not None)
    _warn_of_unread_settings(args, profiles, env=env, sections=sections, config=config, path=path, messages=messages)
    if isinstance(keys, LongTermKeys):
        refuse_long_term_keys(sections, profile, path, unless=keys)
    settings = resolve_settings(profiles, given=args.given, env=env, config=config, path=config_path)
    check_durations(settings, messages.warn)
    kept = None if args.force else still_valid(sections.get(profile), settings.assume_role, settings.min_remaining, now)
    if kept and not args.dry_run:
        # The skip path: no boto, no helper.
        messages.say(f"[{profile}] is still {_valid_until(kept.expiration, now)}; --force refreshes", said)
        session = kept
    else:
        plan = _make_plan(
            args, profiles, env=env, path=path, sections=sections, config=config, settings=settings, keys=keys
        )
        # What the write would refuse ([DEFAULT] keys, odd indentation) is refused now, by a dry run as
        # by a refresh, before a one-time code is spent on STS.
        trial = SessionCredentials("ASIA" + "X" * 16, "-", "-", now)
        spliced(text or "", sections, profile, session_values(trial, settings.assume_role), path)
        if args.dry_run:
            _emit(_describe(plan, kept, now, args.verbose, env))
            return 0
        with _signals_stop_the_run():
            session = _refresh(plan, env, messages)
        messages.say(f"[{profile}] is valid until {format_local(session.expiration)}", said)
    if args.env:
        _emit(env_lines(session))
    elif args.credential_process:
        _emit(credential_process_json(session) + "\n")
    return 0


def _attach_dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """`--long-term-suffix -lt` as `--long-term-suffix=-lt`: argparse would take -lt for an option."""
    joined: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            joined += [word, *words]
            break
        taken = next(words, None) if len(word) >= 4 and "--long-term-suffix".startswith(word) else None
        if taken is None:
            joined.append(word)
        elif taken.startswith("-") and taken not in parser._option_string_actions:
            joined.append(f"{word}={taken}")
        else:
            joined += [word, taken]
    return joined


def _parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """parser.parse_args, with --help and --version printed as all output is: argparse ignores a failure to
    write them (a full disk, a closed pipe), which was exit 0 with nothing printed, or exit 120."""
    import io

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            return parser.parse_args(argv)
    finally:
        if printed.getvalue():
            try:
                _emit(printed.getvalue())
            except AwsMfaError as error:
                _tell(f"aws-mfa: error: {error}")
                raise SystemExit(1) from None


class Stopped(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so helpers end and no temporary file is left."""

    def __init__(self, number: int, name: str) -> None:
        super().__init__(name)
        self.number = number


@contextlib.contextmanager
def _signals_stop_the_run() -> Iterator[None]:
    """SIGTERM and SIGHUP end the block by an exception, as Ctrl-C does; after the first, all three are
    ignored to its end, so that a second does not break into the clean-up the first started."""
    import signal

    def stop(number: int, frame: object) -> None:
        for each in numbers:
            signal.signal(each, signal.SIG_IGN)
        if number == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(number, signal.Signals(number).name)

    numbers = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    previous = [signal.signal(number, stop) for number in numbers]
    try:
        yield
    finally:
        for number, handler in zip(numbers, previous, strict=True):
            signal.signal(number, handler)


def _reserve_standard_streams() -> None:
    """Open /dev/null on a closed stdin, stdout or stderr (`2>&-`): else the next file opened takes that
    number, and whatever writes to "stderr" (a helper) writes into it, the credentials file's copy, say."""
    for number in range(3):
        try:
            os.fstat(number)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != number:  # pragma: no cover (only when a lower one was closed as well)
                os.dup2(opened, number)
                os.close(opened)


def main(argv: Sequence[str] | None = None) -> int:
    _reserve_standard_streams()
    env = os.environ
    parser = _build_parser(env)
    args = _parse_arguments(parser, _attach_dash_values(parser, sys.argv[1:] if argv is None else argv))
    for mode in ("status", "env", "credential_process", "clear", "list"):
        if args.dry_run and getattr(args, mode):
            parser.error(f"argument --dry-run: not allowed with argument --{mode.replace('_', '-')}")
    if args.profile is None:
        # An SDK runs a credential_process with its own environment, unchanged: an AWS_PROFILE
        # there chose the SDK's profile (the one naming us, or any other the shell exported),
        # which is not the profile to write, and need not even be a usable one.
        aws_profile = None if args.credential_process else env.get("AWS_PROFILE")
        try:
            args.profile = profile_name(aws_profile) if aws_profile else DEFAULT_PROFILE
        except argparse.ArgumentTypeError as error:
            parser.error(f"AWS_PROFILE: {error}")
    if not args.credentials_path:
        # botocore takes an empty AWS_SHARED_CREDENTIALS_FILE for no credentials file: a session
        # written anywhere would go unseen by the SDKs.
        parser.error(
            "the credentials file path is empty (-c or AWS_SHARED_CREDENTIALS_FILE), which the AWS SDKs take for "
            "no credentials file; name a file, or unset AWS_SHARED_CREDENTIALS_FILE"
        )
    try:
        code = _run(args, env)
    except AwsMfaError as error:
        _tell(f"aws-mfa: error: {error}")
        code = 2 if isinstance(error, UsageError) else 1
    except KeyboardInterrupt:
        _tell("aws-mfa: interrupted")
        return 130
    except Stopped as stop:
        _tell(f"aws-mfa: stopped by {stop}")
        return 128 + stop.number
    finally:
        end_helpers()
    return code


def cli() -> None:
    """The console script: main(), then the one place that decides how the process ends (every `finally` of
    the run is done by then, and aws-mfa's threads are daemons)."""
    # PERF: the interpreter's teardown would free botocore's objects one by one before the OS
    # takes the memory anyway: the atexit handlers (coverage saves its data there), a flush and
    # os._exit save about 65 ms (make bench, 2026-12-05: "teardown: refresh --code" 2 ms against
    # "teardown: minimal boto3 program" 67 ms).
    code = main()
    if "botocore" in sys.modules:
        import atexit

        atexit._run_exitfuncs()
        with contextlib.suppress(OSError, ValueError):  # pragma: no cover (coverage has saved its data)
            # A stream that cannot be flushed skips os._exit: the interpreter's exit reports it as usual.
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
            os._exit(code)
    raise SystemExit(code)


if __name__ == "__main__":
    cli()
