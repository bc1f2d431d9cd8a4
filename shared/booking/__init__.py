"""Booking use cases: list calendars and slots, book, look up, cancel, reschedule, with no double booking.

Google Calendar is the only store. A booking is an event with a client-chosen id (from the `Idempotency-Key`, else
random) and private extended properties marking it. No two confirmed bookings overlap because each booking first
holds *claims* that Google itself makes unique (shared/claims.py), and is written only once it holds them all.

Modules: `service` (the use cases), `rules` (checks before any write), `protocol` (holding claims), `writes` (the
conditional patch, the booking insert, releases), `moves` (reschedule and settling half-done moves), `event` (the
event body, invitation and view), `ids` (ids and request digests), `repeats` (a request repeated from another
client), `confirm` (pending bookings awaiting the visitor's email confirmation), `model` (what goes in and out),
and for teams (config `[[teams]]`) `team_service` (listing, slots, round-robin and collective booking on the same
protocol), `team_assign` (the one member a keyed round-robin request books) and `team_moves` (moving a collective
booking).

The protocol, and the Google behaviour each step rests on (REF = developers.google.com/workspace/calendar/api/v3/
reference, GUIDES = .../api/guides; the emulator follows the harsher reading where Google is silent, CALENDAR.md):

1. Rules (hours, grid, notice, horizon) without I/O; a fresh snapshot refuses a slot known to be taken (no call).
2. One batch (GUIDES/batch: one HTTP round trip): an `events.insert` per claim (one per wall-clock cell of the
   calendar's slot grid that [start, end + max(buffer before, after)) touches, plus, with a per-day cap, the day's
   tokens), an `events.list` of the calendar around the slot (the live check against meetings), and with a key the
   booking's own id (`events.get`, so a repeat is answered from it).
   - A claim id exists at most once per calendar: an insert with an existing id is `409 duplicate`
     (GUIDES/errors, "The requested identifier already exists"), whoever asks, whenever. So of two bookings that
     would come closer than their buffers, which always share a cell (claims.cells_for), at most one holds it.
   - A claim that exists is read (`events.get`, by id: immediate, unlike lists) and kept if this booking holds it,
     or taken over only if no holder still needs it: every holder's booking event is read by id; a holder is live
     if its booking is confirmed and still covers the cell, or if it does not exist yet and the hold is younger
     than `booking.claim_ttl_seconds`. The take-over is a conditional patch (`If-Match`: GUIDES/version-resources,
     412 when the claim changed), so of racing takers exactly one wins.
   - The live check reads the calendar's events: a meeting that blocks time within the buffers, or an older
     booking (padded), refuses the slot; an item that cannot be parsed counts as busy; claims never block. It does
     not have to see other bookings: claims settle bookings, whatever events.list or freeBusy lag behind (Google
     promises no read-after-write for them; the emulator's `read_lag_ms`).
3. The booking event is inserted (with Google's invitation: only a booking that won is ever written, so no loser
   is ever invited), and surplus day tokens are released, in one more batch. Under a per-day cap the event records
   the one day token it keeps (`wcbDayToken`): only that one is live for it, so tokens it holds beyond it (a retry
   re-writes every hold of the attempt before it and never releases those) are free for the next booking to take
   over and for the sweep to release. A `duplicate` on the booking's own id
   means our insert landed unanswered (retried), or this request's retry on another instance wrote it: either
   way it is the answer. Any other failure reads the id (by id: immediate): an event there stands (it was written
   holding all its claims) and is answered; none, and 503 is answered with nothing confirmed and the claims
   released. If the read fails too, the id is taken with an aborted placeholder (`writes.insert_placeholder`):
   landed, no insert can land under the id any more, even one still in flight, so 503 with nothing confirmed;
   `duplicate`, the booking landed: answered once read, or, for an id nobody else can know (no key, not a
   move's), from what was written; else (or if Google answers nothing) 503 with `details.outcome` = `unknown`,
   the one 503 that may leave a booking standing: the same request with the same key learns which. A written
   booking is never withdrawn: its id may have been answered 200 to the client's retry elsewhere meanwhile.
   Two attempts of one request share the booking id, so each re-writes a hold it finds under that id as its own
   attempt (`wcbAttempt`) before relying on it; releases are conditional (`If-Match`), so an attempt giving up
   never releases a hold another attempt relies on.

Why this holds without any one process surviving and without stamp order: the only decisions are Google's (who
inserted an id first; whose `If-Match` matched), and a claim is never deleted, so ids never become free again
(Google may forget deleted ids: "Such cancelled events will eventually disappear", REF/events `status`). A crash
before step 3 leaves claims whose booking does not exist: at worst capacity held for the TTL, then taken over by
the next booking or released by the sync's sweep (shared/sweep.py, `sync.sweep_claims`). A crash after step 3 leaves
a complete booking. The TTL must exceed the longest a request can live after taking its claims (the function
timeout; the client's retry deadline is 20 s): a writer past it could otherwise write a booking whose claim was
taken over. A 201 is never undone: nothing in the protocol cancels a booking that holds its claims, and a holder
is judged only by its own event (status and times), never by `created`/`updated`, which Google writes in whole
seconds and which an employee's edit changes. An employee restoring a cancelled booking from the trash revives its
claims only where nobody took them over; a booking holding them stands.

Cancel: a conditional cancel of the booking event; its claims are then free by the rule above (the sweep tidies
them). It never cancels a version marked for a move meanwhile (its re-read after a 412 may show one): that move is
settled first, as below, and the cancel tried again.
Move: the old booking is marked for one new id and the time the move began (a conditional patch, in the
first batch, so two moves cannot both proceed); cells the old booking holds are shared with the new one (`wcbAlso`)
instead of taken; the new booking is written; the old one is cancelled "moved" (conditional). A half-done move is
settled by one rule that anyone applies with the same verdict (`events.move_verdict`): once the new booking was
written and never withdrawn, the move happened and the old booking is cancelled as moved (by a repeat of the move,
by any look at either booking through get, cancel or reschedule, or by the sync's sweep); if the new booking was
withdrawn, or does not exist once the mark is older than the TTL, the old booking is unmarked and stands. A cancel or
another move that reaches the old booking before the new one exists wins: it first takes the new booking's id with
an aborted placeholder (`moves.withdraw_unwritten`; an insert of an existing id is `409 duplicate`, so of that
insert and the mover's exactly one lands, even when the mover died with its insert still in flight at Google), and
the mover, finding its id taken, gives up before anything was answered. If the mover's insert came first, the move
happened and the cancel finds the booking moved. Unmarking past the TTL takes the id the same way, so no move's
booking can land after its old booking was given back. So a failed commit write answers 200 (the move stands) and
never leaves both bookings counting: the old one keeps its time and claims only until the first look or the next
sweep. Only the writer withdraws a booking, and only before answering (a mover finding the old booking cancelled
at its commit); a mover that died after writing leaves a booking that stands, also when the employee deletes the
old one meanwhile, and the sweep invites its visitor once it is older than the TTL (`sweep._announce_orphans`).

Pending bookings (`booking.confirm_email`, `confirm`): written as above, holding their claims, but `tentative`
with a deadline; a holder is judged by its event as always, and one past its deadline is first expired by whoever
meets it (a conditional cancel) and so judged cancelled, unless the visitor's confirmation (a conditional write on
the same event) came first. Google's `If-Match` decides between the two, never the clocks.

Repeats: an Idempotency-Key is scoped to the client's address and bound to the whole body (`ids`); only the very
same request from the same client gets the booking and its token again. The same key and body from a new address
(a phone that changed networks) meets its own booking as a taken slot; on that 409 the booking is found by ids
(the first cell's claim, then its holders) and recognised by `wcbKeyed` (key and body, no client), and the answer
is 409 `request_already_booked` describing it with the token withheld (`repeats`): the visitor learns they are
booked and manages it from the invitation, while a guessed key with a victim's known body still steals nothing.

Liveness, not safety: two overlapping requests racing may each win some cells both need; a request yields at once to
a pending hold (booking not yet written) of a lower id and waits briefly for pending holds of higher ids to be
released, so such a pair normally ends with one booking, not none.

Cost (measured by `make bench`, "Google round trips" rows): a booking is two sequential Google calls on the happy
path (the day's first booking with a per-day cap, or any without one); a later booking on a day with a cap takes
over a released day token: three calls more (read the tokens, read their holders, one conditional write). A slot
the live check sees taken: one call; a claim found held while the live read lags: two or three calls more before
the 409.
"""


from .event import clean_text, invitation_status, invites, send_updates_for
from .ids import event_ids
from .model import BookingResult, BookingView, NewBooking
from .moves import settle_move
from .protocol import live_problem
from .service import MAX_SLOTS_SPAN_DAYS, BookingService

__all__ = [
    "MAX_SLOTS_SPAN_DAYS",
    "BookingResult",
    "BookingService",
    "BookingView",
    "NewBooking",
    "clean_text",
    "event_ids",
    "invitation_status",
    "invites",
    "live_problem",
    "send_updates_for",
    "settle_move",
]
