"""Routes of the staff app. Every one needs a signed-in user except the
sign-in page itself; every POST carries a CSRF token (CSRFProtect)."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Optional
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from werkzeug.wrappers.response import Response as ResponseBase

from clinic.settings import StaffSettings
from db.engine import session_factory
from db.models import Lead, LeadEvent, LeadStatus, OutboxMessage, RedFlagAlert, utcnow
from db.staff_models import LeadNote, StaffUser
from notifications.red_flags import alert_for
from webapp.security import client_address
from webapp.staff import (
    auth,
    charts,
    dashboard,
    devices,
    export,
    labels,
    queries,
    reviews,
    roles,
    two_factor,
)
from webapp.staff.forms import (
    STATUS_LABELS,
    CodeForm,
    DeleteForm,
    ExportForm,
    LoginForm,
    LogoutForm,
    ReviewedForm,
    StatusForm,
)
from webapp.staff.privacy import delete_lead
from webapp.staff.roles import ADMIN, FRONT_DESK, PUBLIC, allow
from webapp.staff.transcript import (
    conversations,
    delete_conversation,
    is_red_flagged,
    media,
    transcript,
)

logger = logging.getLogger(__name__)
bp = Blueprint("staff", __name__, url_prefix="/staff")

TOKEN = "staff_token"  # noqa: S105 - the session key, not a secret
# logout: ends what is left; login_code: the password was right, the code is next
PUBLIC_ENDPOINTS = {"staff.login", "staff.login_code", "staff.logout"}
PENDING = "staff_pending"  # the Flask session's key between password and code
PENDING_FOR = timedelta(minutes=5)
SETUP_ENDPOINTS = {"staff.two_factor_setup", "staff.logout"}
CONVERSATION_VIEWS = ("all", "no_lead", "red_flag")
PAGE_SIZE = 50
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


# ---- request plumbing -------------------------------------------------------


def settings() -> StaffSettings:
    return current_app.config["STAFF_SETTINGS"]


def zone() -> ZoneInfo:
    return ZoneInfo(settings().timezone)


def db() -> Session:
    """The request's database session (closed at the end of the request)."""
    if "staff_db" not in g:
        g.staff_db = session_factory(current_app.config["DATABASE_URL"])()
    return g.staff_db


@bp.teardown_app_request
def _close_db(_error: Optional[BaseException]) -> None:
    session_ = g.pop("staff_db", None)
    if session_ is not None:
        session_.close()


def safe_next(target: Optional[str]) -> Optional[str]:
    """`target` if it is a page of the staff app on this site, else None."""
    if not target or len(target) > 2000 or "\\" in target:
        return None
    if any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    if not parts.path.startswith("/staff/") or parts.path.startswith("/staff/login"):
        return None
    return target


def _from_another_site() -> bool:
    """The browser says another site (or a sibling subdomain) started this
    request (Sec-Fetch-Site; browsers that do not send it are let through,
    the CSRF token still guards every POST)."""
    return request.headers.get("Sec-Fetch-Site", "") in ("cross-site", "same-site")


@bp.before_request
def _refuse_cross_site_posts() -> None:
    """A second guard beside the CSRF token: no other site's page can make
    a signed-in browser change anything here."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and _from_another_site():
        abort(403, "This request came from another site, so it was refused.")


def _confirm_the_link(target: str, what: str) -> Optional[Any]:
    """Opening a lead or a conversation writes an audit event ("viewed"):
    when the link was followed from another site (a webmail's red-flag
    email, or a page that wants a view recorded), a page asks first, and
    nothing is shown or recorded until staff click its same-site link."""
    if not _from_another_site():
        return None
    return render_template("staff/confirm_link.html", target=target, what=what)


@bp.before_request
def _require_login() -> Optional[ResponseBase]:
    g.staff_user = None
    user = auth.current_user(
        db(), session.get(TOKEN), timedelta(minutes=settings().idle_minutes)
    )
    if user is not None:
        g.staff_user = user
        return None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    session.pop(TOKEN, None)
    if request.method in ("GET", "HEAD"):
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("staff.login", next=target))
    abort(401, "Please sign in again: your session has ended.")


@bp.before_request
def _check_role() -> Optional[ResponseBase]:
    """Every route declares the role it needs (roles.allow); one that declares
    none is refused to everyone, so a new route cannot be left open. An admin
    without two-factor sign-in can reach only its set-up (and sign out)."""
    view = current_app.view_functions.get(request.endpoint or "")
    role = roles.declared(view)
    if role is None:
        logger.error("Staff route %s declares no role: refused", request.endpoint)
        abort(403, "This page is not open to any role yet.")
    if role == PUBLIC:
        return None
    user = g.staff_user
    if (
        user.role == ADMIN
        and not two_factor.enabled(user)
        and request.endpoint not in SETUP_ENDPOINTS
    ):
        if request.method in ("GET", "HEAD"):
            return redirect(url_for("staff.two_factor_setup"))
        abort(403, "Set up two-factor sign-in first: admins need it.")
    if not roles.may(user.role, view):
        abort(
            403,
            f"A {roles.LABELS.get(user.role, user.role)} account cannot do this: "
            "ask an admin.",
        )
    return None


@bp.app_context_processor
def _context() -> Dict[str, Any]:
    if not request.path.startswith("/staff"):
        return {}
    user = g.get("staff_user")
    return {
        "staff_user": user,
        "is_admin": user is not None and user.role == ADMIN,
        "logout_form": LogoutForm() if user else None,
        "status_labels": STATUS_LABELS,
        "labels": labels,
    }


@bp.app_template_filter("local")
def _local(value: Optional[datetime], with_seconds: bool = False) -> str:
    if value is None:
        return ""
    value = auth.aware(value)  # not None: checked above
    pattern = "%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M"
    return value.astimezone(zone()).strftime(pattern)


def _bad(error: Exception) -> None:
    abort(400, str(error))


def parse_or_400(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except queries.BadRequest as error:
        _bad(error)
    return None  # unreachable


def find_lead(reference: str) -> Lead:
    lead = queries.lead_by_reference(db(), reference)
    if lead is None:
        abort(404, "There is no lead with that reference (it may have been deleted).")
    return lead


def log_view(lead: Lead, what: str) -> None:
    db().add(
        LeadEvent(
            lead=lead,
            lead_reference=lead.reference,
            kind="viewed",
            actor=g.staff_user.username,
            detail=what,
        )
    )


def username() -> str:
    return g.staff_user.username


# ---- signing in and out -----------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@allow(PUBLIC)
def login() -> Any:
    target = safe_next(request.values.get("next"))
    if g.staff_user is not None:
        return redirect(target or url_for("staff.leads"), code=303)
    form = LoginForm()
    if request.method == "GET":
        form.next.data = target or ""
        return render_template("staff/login.html", form=form)
    if not form.validate_on_submit():
        return render_template(
            "staff/login.html", form=form, error="Enter a user name and password."
        ), 400
    address = client_address(request, current_app.config.get("WEB_TRUSTED_PROXIES", 0))
    known = devices.is_known(form.username.data)
    result = auth.sign_in(
        db(), form.username.data, form.password.data, address, known_device=known
    )
    if result.locked_until is not None and not result.ok:
        logger.warning("Sign-in refused: waiting after failed attempts")
        wait = auth.seconds_until(result.locked_until)
        return (
            render_template(
                "staff/login.html",
                form=form,
                error=(
                    "Too many failed sign-ins from here or for this user name. "
                    f"Wait {wait} second{'' if wait == 1 else 's'} and try again."
                ),
            ),
            429,
            {"Retry-After": str(wait)},
        )
    if result.user is None:
        logger.info("Sign-in failed")
        return render_template(
            "staff/login.html", form=form, error="Wrong user name or password."
        ), 401
    target = safe_next(form.next.data)
    if two_factor.enabled(result.user):  # the code next, then the session
        session.clear()
        session[PENDING] = {
            "user": result.user.id,
            "at": int(utcnow().timestamp()),
            "next": target or "",
        }
        return redirect(url_for("staff.login_code"), code=303)
    return _signed_in(result.user, target)


def _signed_in(user: StaffUser, target: Optional[str]) -> ResponseBase:
    """Starts a session for `user` (password, and code if set up, checked)."""
    token = auth.start_session(db(), user, timedelta(hours=settings().session_hours))
    session.clear()  # a fresh session (and CSRF token) after signing in
    session.permanent = True
    session[TOKEN] = token
    logger.info("Staff user %s signed in", user.username)
    response = redirect(target or url_for("staff.leads"), code=303)
    return devices.remember(response, user.username)


def _pending_user() -> Optional[StaffUser]:
    """The user whose password was right a moment ago, waiting for a code."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    at, user_id = pending.get("at"), pending.get("user")
    if not isinstance(at, int) or not isinstance(user_id, int):
        return None
    if utcnow().timestamp() - at > PENDING_FOR.total_seconds():
        return None
    user = db().get(StaffUser, user_id)
    if user is None or user.disabled_at is not None or not two_factor.enabled(user):
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
@allow(PUBLIC)
def login_code() -> Any:
    """Sign-in's second step: a code of the authenticator app."""
    if g.staff_user is not None:
        return redirect(url_for("staff.leads"), code=303)
    user = _pending_user()
    if user is None:
        session.pop(PENDING, None)
        flash("Sign in again: the code step lasts 5 minutes.", "error")
        return redirect(url_for("staff.login"), code=303)
    form = CodeForm()
    if request.method == "GET":
        return render_template("staff/login_code.html", form=form)
    if not form.validate_on_submit():
        return render_template(
            "staff/login_code.html", form=form, error="Enter the 6-digit code."
        ), 400
    result = two_factor.check_code(db(), user, form.code.data)
    if result.locked_until is not None:
        wait = auth.seconds_until(result.locked_until)
        return (
            render_template(
                "staff/login_code.html",
                form=form,
                error=f"Too many wrong codes. Wait {wait} seconds and try again.",
            ),
            429,
            {"Retry-After": str(wait)},
        )
    if not result.ok:
        logger.info("Sign-in code refused")
        return render_template(
            "staff/login_code.html",
            form=form,
            error=(
                "That code is not right, or was used already: "
                "enter the one your app shows now."
            ),
        ), 401
    target = safe_next(session.get(PENDING, {}).get("next"))
    return _signed_in(user, target)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@allow(FRONT_DESK)
def two_factor_setup() -> Any:
    """Sets up TOTP for the signed-in user: a QR code and the secret, then
    a code to confirm before it is enabled. Admins must; front desk may."""
    user = g.staff_user
    form = CodeForm()
    if two_factor.enabled(user):
        return render_template("staff/two_factor.html", user=user, form=None)
    two_factor.start_setup(user)
    db().commit()
    code = 200
    error = None
    if request.method == "POST":
        if form.validate_on_submit() and two_factor.confirm_setup(
            db(), user, form.code.data
        ):
            db().commit()
            logger.info("Staff user %s set up two-factor sign-in", user.username)
            flash("Two-factor sign-in is on: each sign-in will ask for a code.")
            return redirect(url_for("staff.leads"), code=303)
        error = "That code is not right: enter the one your app shows now."
        code = 400
    secret = user.totp_secret
    return render_template(
        "staff/two_factor.html",
        user=user,
        form=form,
        error=error,
        qr=two_factor.qr_data_uri(two_factor.setup_uri(user)),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    ), code


@bp.post("/logout")
@allow(PUBLIC)
def logout() -> Any:
    auth.end_session(db(), session.get(TOKEN))
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("staff.login"), code=303)


# ---- the lead queue ---------------------------------------------------------


@bp.get("/")
@allow(FRONT_DESK)
def home() -> Any:
    return redirect(url_for("staff.leads"))


@bp.get("/leads")
@allow(FRONT_DESK)
def leads() -> Any:
    flt = parse_or_400(lambda: queries.QueueFilter.from_args(request.args))
    try:
        page = parse_or_400(lambda: queries.queue(db(), flt, zone()))
    except LookupError as error:
        abort(404, str(error))
    to_review = (
        db()
        .execute(select(func.count()).where(RedFlagAlert.reviewed_at.is_(None)))
        .scalar_one()
    )
    return render_template(
        "staff/leads.html",
        to_review=to_review,
        page=page,
        media=media(
            db(), [ld.sender_id for ld in page.leads if ld.channel == "twilio"]
        ),
        flt=flt,
        flag_choices=queries.FLAGS,
        channels=queries.channels(db()),
        statuses=list(LeadStatus),
        export_form=ExportForm(formdata=None),
    )


@bp.get("/leads/export.csv")
@allow(FRONT_DESK)
def export_link() -> Any:
    """The old export link (a bookmark) opens the queue with its filters:
    exporting is the queue's button now, nothing is exported here."""
    query = request.args.to_dict()
    return redirect(url_for("staff.leads", **query), code=303)  # type: ignore[arg-type]


@bp.post("/leads/export.csv")
@allow(ADMIN)
def export_csv() -> Response:
    """The filtered queue as CSV. A POST with the CSRF token (the filters in
    the form): each export is an audit event, so a link or a page on another
    site must not be able to start one."""
    flt = parse_or_400(lambda: queries.QueueFilter.from_args(request.form))
    found = list(parse_or_400(lambda: queries.matching(db(), flt, zone())))
    notes = parse_or_400(lambda: queries.notes(db(), flt, zone()))
    body = export.to_csv(export.rows(found, notes, lambda value: _local(value, True)))
    if found:
        now = utcnow()
        db().execute(
            insert(LeadEvent),
            [
                {
                    "lead_id": lead.id,
                    "lead_reference": lead.reference,
                    "at": now,
                    "kind": "exported",
                    "actor": username(),
                    "detail": "csv export",
                }
                for lead in found
            ],
        )
        db().commit()
    logger.info("Staff user %s exported %d leads", username(), len(found))
    stamp = datetime.now(zone()).strftime("%Y%m%d-%H%M")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="leads-{stamp}.csv"'},
    )


# ---- one lead ---------------------------------------------------------------


def _lead_page(lead: Lead, status_form: StatusForm, code: int = 200) -> Any:
    notes = {
        note.event_id: note
        for note in db().scalars(select(LeadNote).where(LeadNote.lead_id == lead.id))
    }
    same_conversation = list(
        db().scalars(
            select(Lead.reference)
            .where(Lead.sender_id == lead.sender_id, Lead.id != lead.id)
            .order_by(Lead.created_at)
        )
    )
    trail = [event for event in lead.events if event.kind != "viewed"]
    views = [event for event in lead.events if event.kind == "viewed"]
    return render_template(
        "staff/lead.html",
        lead=lead,
        trail=trail,
        views=views,
        notes=notes,
        turns=transcript(db(), lead.sender_id),
        red_flagged=is_red_flagged(db(), lead.sender_id),
        medium=media(db(), [lead.sender_id]).get(lead.sender_id),
        same_conversation=same_conversation,
        status_form=status_form,
        delete_form=DeleteForm(formdata=None),
    ), code


@bp.get("/leads/<reference>")
@allow(FRONT_DESK)
def lead(reference: str) -> Any:
    found = find_lead(reference)
    ask = _confirm_the_link(
        url_for("staff.lead", reference=found.reference), found.reference
    )
    if ask is not None:
        return ask
    log_view(found, "lead page")
    db().commit()
    form = StatusForm(formdata=None, status=found.status.value)
    return _lead_page(found, form)


@bp.post("/leads/<reference>/status")
@allow(FRONT_DESK)
def change_status(reference: str) -> Any:
    found = find_lead(reference)
    form = StatusForm()
    if not form.validate_on_submit():
        return _lead_page(found, form, code=400)
    new = LeadStatus(form.status.data)
    note = (form.note.data or "").replace("\x00", "").strip()
    old = found.status
    if new == old and not note:
        flash("Nothing changed: pick another status or write a note.")
        return redirect(url_for("staff.lead", reference=found.reference), code=303)
    event = LeadEvent(
        lead=found,
        lead_reference=found.reference,
        kind="status_changed" if new != old else "note",
        actor=username(),
        detail=f"from={old.value}; to={new.value}" if new != old else "note added",
    )
    db().add(event)
    if new != old:
        found.status = new
    db().flush()
    if note:
        db().add(
            LeadNote(lead_id=found.id, event_id=event.id, author=username(), text=note)
        )
    db().commit()
    if new != old:
        flash(f"{found.reference} is now {STATUS_LABELS[new.value].lower()}.")
    else:
        flash("Note added.")
    return redirect(url_for("staff.lead", reference=found.reference), code=303)


@bp.post("/leads/<reference>/delete")
@allow(ADMIN)
def delete(reference: str) -> Any:
    found = find_lead(reference)
    form = DeleteForm()
    typed = (form.confirm.data or "").strip().upper()
    if not form.validate_on_submit() or typed != found.reference:
        flash(f"Not deleted: type {found.reference} to confirm.", "error")
        return redirect(url_for("staff.lead", reference=found.reference), code=303)
    removed = delete_lead(
        db(), found, actor=username(), reason="deleted on request by staff"
    )
    db().commit()
    logger.info("Staff user %s deleted a lead (%d events)", username(), removed)
    flash(
        f"{reference.upper()} deleted with its transcript ({removed} events); "
        "its audit trail is kept without personal data."
    )
    return redirect(url_for("staff.leads"), code=303)


# ---- conversations ----------------------------------------------------------


@bp.get("/conversations")
@allow(FRONT_DESK)
def conversation_list() -> Any:
    show = request.args.get("show") or "all"
    if show not in CONVERSATION_VIEWS:
        abort(400, f"show must be one of: {', '.join(CONVERSATION_VIEWS)}")
    page = parse_or_400(lambda: queries.parse_page(request.args.get("page")))
    start = parse_or_400(lambda: queries.parse_date(request.args.get("from"), "from"))
    end = parse_or_400(lambda: queries.parse_date(request.args.get("to"), "to"))
    since, until = parse_or_400(lambda: queries.day_bounds(start, end, zone()))
    found = conversations(
        db(), show, since, until, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    pages = max(1, -(-found.total // PAGE_SIZE))
    if page > pages:
        abort(404, f"there is no page {page}: the list has {pages}")
    args = {
        k: v
        for k, v in {
            "show": show if show != "all" else "",
            "from": start.isoformat() if start else "",
            "to": end.isoformat() if end else "",
        }.items()
        if v
    }
    return render_template(
        "staff/conversations.html",
        found=found,
        show=show,
        start=start,
        end=end,
        page=page,
        pages=pages,
        args=args,
    )


def _sender_arg(source: Dict[str, str]) -> str:
    sender = source.get("sender") or ""
    if not sender or len(sender) > 255 or "\x00" in sender:
        abort(400, "Which conversation? The link lacks a valid conversation id.")
    return sender


@bp.get("/conversations/view")
@allow(FRONT_DESK)
def conversation() -> Any:
    sender = _sender_arg(request.args)
    ask = _confirm_the_link(
        url_for("staff.conversation", sender=sender), "the conversation"
    )
    if ask is not None:
        return ask
    turns = transcript(db(), sender)
    if not turns:
        abort(404, "There is no conversation with that id (it may have been deleted).")
    linked = list(
        db().scalars(
            select(Lead).where(Lead.sender_id == sender).order_by(Lead.created_at)
        )
    )
    for found in linked:
        log_view(found, "conversation page")
    db().commit()
    logger.info("Staff user %s opened a conversation", username())
    return render_template(
        "staff/conversation.html",
        sender=sender,
        turns=turns,
        leads=linked,
        red_flagged=is_red_flagged(db(), sender),
        alert=alert_for(db(), sender),
        reviewed_form=ReviewedForm(formdata=None),
        delete_form=DeleteForm(formdata=None),
    )


@bp.get("/red-flags/<reference>")
@allow(FRONT_DESK)
def red_flag(reference: str) -> Any:
    """The link of a red-flag email: the conversation it is about."""
    found = (
        db()
        .scalars(select(RedFlagAlert).where(RedFlagAlert.reference == reference[:16]))
        .first()
    )
    if found is None:
        abort(
            404, "There is no red-flag alert with that reference (it may be deleted)."
        )
    return redirect(url_for("staff.conversation", sender=found.sender_id))


@bp.post("/conversations/reviewed")
@allow(FRONT_DESK)
def mark_reviewed() -> Any:
    sender = _sender_arg(request.form)
    form = ReviewedForm()
    if not form.validate_on_submit():
        abort(400, "The form expired. Reload the page and try again.")
    found = alert_for(db(), sender)
    if found is None:
        abort(404, "This conversation has no red-flag alert (yet, or any more).")
    if found.reviewed_at is None:
        found.reviewed_at, found.reviewed_by = utcnow(), username()
        db().add(
            LeadEvent(
                lead_id=None,
                lead_reference=found.reference,
                kind="red_flag_reviewed",
                actor=username(),
                detail="red-flag conversation reviewed",
            )
        )
        db().commit()
        logger.info("Staff user %s reviewed red flag %s", username(), found.reference)
    return redirect(url_for("staff.conversation", sender=sender), code=303)


@bp.post("/conversations/delete")
@allow(ADMIN)
def delete_conversation_view() -> Any:
    sender = _sender_arg(request.form)
    form = DeleteForm()
    back = url_for("staff.conversation", sender=sender)
    if db().scalars(select(Lead.id).where(Lead.sender_id == sender)).first():
        flash("This conversation belongs to a lead: delete the lead instead.", "error")
        return redirect(back, code=303)
    if not form.validate_on_submit() or form.confirm.data.strip().lower() != "delete":
        flash("Not deleted: type DELETE to confirm.", "error")
        return redirect(back, code=303)
    removed = delete_conversation(db(), [sender])
    db().commit()
    logger.info("Staff user %s deleted a conversation (%d events)", username(), removed)
    flash(f"Conversation deleted ({removed} events).")
    return redirect(url_for("staff.conversation_list"), code=303)


# ---- dashboard and outbox ---------------------------------------------------


@bp.get("/dashboard")
@allow(ADMIN)
def dashboard_page() -> Any:
    today = datetime.now(zone()).date()
    start = parse_or_400(lambda: queries.parse_date(request.args.get("from"), "from"))
    end = parse_or_400(lambda: queries.parse_date(request.args.get("to"), "to"))
    end = end or today
    start = start or end - timedelta(days=29)
    if start > end:
        abort(400, "the 'from' date is after the 'to' date")
    if (end - start).days + 1 > dashboard.MAX_DAYS:
        abort(400, f"choose a period of at most {dashboard.MAX_DAYS} days")
    board = dashboard.build(db(), start, end, zone())
    answers = reviews.answers_for_days(
        db(), start, end, zone(), settings().review_confidence
    )
    return render_template(
        "staff/dashboard.html",
        board=board,
        answers=answers,
        review_form=reviews.form_for,
        verdict_text=reviews.verdict_text,
        per_day=charts.columns(board.days, "Conversations per day"),
        topics=charts.rows(board.topics, "Most asked topics"),
        funnel=charts.rows(board.funnel, "From conversation to booking"),
        conversation_channels=charts.rows(
            board.conversation_channels, "Conversations per channel"
        ),
        lead_channels=charts.rows(board.lead_channels, "Leads per channel"),
        red_flags=charts.rows(board.red_flag_categories, "Red flags by kind"),
    )


@bp.post("/answers/review")
@allow(ADMIN)
def review_answer() -> Any:
    """Staff's verdict on one answer of the dashboard's "Answers to check"."""
    form = reviews.AnswerReviewForm()
    back = safe_next(form.next.data) or url_for("staff.dashboard_page")
    if not form.validate_on_submit():
        flash("Not saved: choose what the answer was.", "error")
        return redirect(back, code=303)
    event_id = form.event_id.data or ""
    if not re.fullmatch(r"[0-9]{1,10}", event_id) or not 0 < int(event_id) < 2**31:
        abort(400, "Which answer? The form lacks a valid message id.")
    answer = reviews.faq_message(db(), int(event_id))
    if answer is None:
        abort(404, "There is no such answer (its conversation may have been deleted).")
    try:
        reviews.save_review(
            db(), answer, form.verdict.data, form.topic.data or None, username()
        )
    except reviews.ReviewError as error:
        flash(f"Not saved: {error}", "error")
        return redirect(back, code=303)
    db().commit()
    logger.info("Staff user %s checked an answer", username())
    flash("Saved.")
    return redirect(back, code=303)


@bp.get("/outbox")
@allow(ADMIN)
def outbox() -> Any:
    page = parse_or_400(lambda: queries.parse_page(request.args.get("page")))
    total = db().execute(select(func.count(OutboxMessage.id))).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        abort(404, f"there is no page {page}: the outbox has {pages}")
    messages = list(
        db().scalars(
            select(OutboxMessage)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    return render_template(
        "staff/outbox.html", messages=messages, page=page, pages=pages, total=total
    )


@bp.after_app_request
def _headers(response: Response) -> Response:
    if request.path.startswith("/staff"):
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
    return response
