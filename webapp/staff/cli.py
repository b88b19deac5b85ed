"""Staff accounts and retention from the command line.

    python -m webapp.staff.cli create-user ana        # asks for a password twice
    python -m webapp.staff.cli create-user ana --role admin   # default front-desk
    python -m webapp.staff.cli create-user ana --password-stdin < file
    python -m webapp.staff.cli set-password ana       # also ends ana's sessions
    python -m webapp.staff.cli set-role ana front-desk    # also ends her sessions
    python -m webapp.staff.cli disable-user ana | enable-user ana
    python -m webapp.staff.cli delete-user ana        # the account; not the audit trail
    python -m webapp.staff.cli reset-two-factor ana   # a lost phone: set up anew
    python -m webapp.staff.cli unlock ana             # clears a sign-in lockout
    python -m webapp.staff.cli list-users
    python -m webapp.staff.cli retention [--days N] [--dry-run]
    python -m webapp.staff.cli export-reviewed --out reviewed.yml [--force]

export-reviewed writes the messages staff checked on the dashboard as Rasa
NLU training data, by the topic staff chose, for the maintainer to write new
examples from. They are what patients wrote: the file is made readable by
its owner only, is never written into data/ (nothing trains on it), and
nothing of it goes to the output or the logs.

Uses DATABASE_URL (default sqlite:///var/clinic.db), migrated first. There
is no default account and no default password: `make staff-user` runs
create-user. STAFF_PASSWORD, when set, is read instead of asking (scripts).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import List, Optional

from sqlalchemy import select

from clinic.settings import PROJECT_ROOT, get_settings
from db.engine import session_factory
from db.migrate import upgrade
from db.models import utcnow
from db.staff_models import StaffUser
from webapp.staff import auth, reviews, roles, two_factor
from webapp.staff.privacy import purge


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    # An input for this one command, not a setting, taken exactly as given
    # (spaces included), so not through clinic.settings.
    if os.environ.get("STAFF_PASSWORD"):
        return os.environ["STAFF_PASSWORD"]
    if not sys.stdin.isatty():
        raise auth.AccountError(
            "no terminal to ask for a password: use --password-stdin "
            "(make staff-user STAFF_ARGS=--password-stdin) or set STAFF_PASSWORD"
        )
    first = getpass.getpass(f"Password (at least {auth.MIN_PASSWORD_LENGTH} chars): ")
    if getpass.getpass("Again: ") != first:
        raise auth.AccountError("the passwords differ")
    return first


def _username(args: argparse.Namespace) -> str:
    if args.username:
        return args.username
    if not sys.stdin.isatty():
        raise auth.AccountError("give the user name as an argument")
    return input("User name: ")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m webapp.staff.cli", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("create-user", "set-password"):
        command = commands.add_parser(name)
        command.add_argument("username", nargs="?")
        command.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        if name == "create-user":
            command.add_argument(
                "--role",
                type=roles.parse,
                default=roles.FRONT_DESK,
                help="front-desk (works the queue; the default) or admin "
                "(also export, delete, dashboard; needs two-factor sign-in)",
            )
    set_role = commands.add_parser("set-role")
    set_role.add_argument("username")
    set_role.add_argument("role", type=roles.parse, help="front-desk or admin")
    for name in (
        "disable-user",
        "enable-user",
        "delete-user",
        "reset-two-factor",
        "unlock",
    ):
        commands.add_parser(name).add_argument("username")
    commands.add_parser("list-users")
    retention = commands.add_parser(
        "retention",
        help="delete leads past their status's RETENTION_DAYS_<STATUS> and "
        "lead-less conversations past RETENTION_DAYS (--days N: N for all)",
    )
    retention.add_argument("--days", type=int, default=None)
    retention.add_argument("--dry-run", action="store_true")
    exported = commands.add_parser(
        "export-reviewed",
        help="write the checked answers' messages as NLU training data (YAML)",
    )
    exported.add_argument("--out", required=True, type=Path, help="the file to write")
    exported.add_argument(
        "--force", action="store_true", help="replace the file if it exists"
    )
    args = parser.parse_args(argv)

    url = get_settings().database_url
    upgrade(url)
    session = session_factory(url)()
    try:
        return _run(args, session)
    except (auth.AccountError, ValueError, OSError) as error:
        session.rollback()
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        session.close()


def _run(args: argparse.Namespace, session) -> int:  # noqa: ANN001 - a Session
    if args.command == "create-user":
        name = auth.check_username(_username(args))
        user = auth.create_user(session, name, _read_password(args), role=args.role)
        session.commit()
        print(f"Created staff user {user.username} ({roles.LABELS[user.role]}).")
    elif args.command == "set-password":
        name = _username(args)
        auth.set_password(session, name, _read_password(args))
        session.commit()
        print(f"Password of {auth.normalise_username(name)} changed; sessions ended.")
    elif args.command in (
        "disable-user",
        "enable-user",
        "delete-user",
        "reset-two-factor",
        "set-role",
    ):
        found = auth.find_user(session, args.username)
        if found is None:
            raise auth.AccountError(f"no user {auth.normalise_username(args.username)}")
        if args.command == "delete-user":
            name = found.username
            auth.delete_user(session, found)
            session.commit()
            print(f"Deleted staff user {name}; their sessions ended.")
            return 0
        if args.command == "reset-two-factor":
            two_factor.reset(found)
            auth.end_sessions(session, found.id)
            session.commit()
            print(f"Two-factor sign-in of {found.username} is off; sessions ended.")
            return 0
        if args.command == "set-role":
            found.role = args.role
            auth.end_sessions(session, found.id)
            session.commit()
            print(f"{found.username} is {roles.LABELS[found.role]}; sessions ended.")
            return 0
        if args.command == "disable-user":
            found.disabled_at = utcnow()
            auth.end_sessions(session, found.id)
        else:
            found.disabled_at = None
        session.commit()
        print(f"{found.username} is {'disabled' if found.disabled_at else 'enabled'}.")
    elif args.command == "unlock":
        was_locked = auth.unlock(session, args.username)
        session.commit()
        print("Unlocked." if was_locked else "It was not locked; failures cleared.")
    elif args.command == "list-users":
        for user in session.scalars(select(StaffUser).order_by(StaffUser.username)):
            state = "disabled" if user.disabled_at else "active"
            last = user.last_login_at.isoformat() if user.last_login_at else "never"
            totp = "two-factor" if two_factor.enabled(user) else "password only"
            print(
                f"{user.username}\t{roles.LABELS.get(user.role, user.role)}\t"
                f"{state}\t{totp}\tlast sign-in: {last}"
            )
    elif args.command == "retention":
        staff = get_settings().staff
        days = args.days if args.days is not None else staff.retention_days
        # --days N is one period for everything; else each status its own.
        periods = None if args.days is not None else staff.retention_periods()
        report = purge(session, days, dry_run=args.dry_run, periods=periods)
        verb = "Would delete" if args.dry_run else "Deleted"
        statuses = ", ".join(f"{s} {n}" for s, n in report.by_status.items() if n)
        print(
            f"{verb} {report.leads} leads ({statuses or 'none'}) and "
            f"{report.conversations} conversations without a lead, last active "
            f"before {report.cutoff:%Y-%m-%d %H:%M} UTC ({days} days)"
            + ("" if args.dry_run else f"; {report.events} tracker events")
            + "."
        )
        if not args.dry_run:
            ended = auth.purge_expired(session, timedelta(minutes=staff.idle_minutes))
            session.commit()
            print(f"Removed {ended} ended sessions and stale sign-in records.")
    elif args.command == "export-reviewed":
        out = export_target(args.out, args.force)
        examples = reviews.reviewed_examples(session)
        write_private(out, reviews.export_yaml(examples))
        count = sum(len(texts) for texts in examples.values())
        print(f"Wrote {count} checked messages under {len(examples)} labels to {out}.")
    return 0


def export_target(path: Path, force: bool) -> Path:
    """Where the export may go: not into data/ (which Rasa trains on), and
    not over an existing file unless `force`."""
    out = path.expanduser().resolve()
    if out.is_relative_to((PROJECT_ROOT / "data").resolve()):
        raise ValueError("the export may not go into data/: nothing trains on it")
    if out.is_dir():
        raise ValueError(f"{out} is a folder: name a file")
    if out.exists() and not force:
        raise ValueError(f"{out} exists: use --force to replace it")
    return out


def write_private(path: Path, text: str) -> None:
    """Writes `text` to `path`, readable and writable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)  # also when it existed with wider permissions
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    sys.exit(main())
