// <calendar-booking>: the booking widget. No build step, no dependencies; an ES module.
//
// Embed with one script tag:
//   <script type="module" src="https://HOST/booking-widget.js" data-api="https://FUNCTION-URL/booking"></script>
// or with the custom element (after loading the module once):
//   <calendar-booking api="https://FUNCTION-URL/booking"></calendar-booking>
// Attributes: api (base URL of the booking function, default "/booking"), calendar (one employee's slug: skip
// the "who" step), days (how many days to offer, default 14).
// Events (bubbling, composed): "booking-confirmed" and "booking-cancelled", detail {booking} (never the token).
// Bot check: when GET /calendars names one ("botCheck": {"provider": "turnstile", "siteKey"}), the page loads
// Cloudflare's Turnstile widget with that public site key into a light-DOM child (slot "bot-check") and sends
// the widget's token in X-Turnstile-Token with each booking; a token verifies once, so the widget is reset after
// every attempt.
//
// Everything the server says is put on the page with textContent or setAttribute, never as markup.

const STYLES_URL = new URL("./styles.css", import.meta.url).href;
const DEFAULT_DAYS = 14;
const REQUEST_TIMEOUT_MS = 20000;
const SIMPLE_EMAIL = /^[^\s@]+@[^\s@]+$/; // the browser's rule; the server's stricter one answers 400
const TURNSTILE_SCRIPT = "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit";
const BOT_TOKEN_HEADER = "X-Turnstile-Token";
let turnstileLoading = null; // one script load per page, shared by every widget

function loadTurnstile() {
  if (window.turnstile) return Promise.resolve(window.turnstile);
  if (!turnstileLoading) {
    turnstileLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = TURNSTILE_SCRIPT;
      script.async = true;
      script.addEventListener("load", () => (window.turnstile ? resolve(window.turnstile) : reject(new Error("no turnstile"))));
      script.addEventListener("error", () => {
        turnstileLoading = null;
        reject(new Error("The bot check could not be loaded."));
      });
      document.head.append(script);
    });
  }
  return turnstileLoading;
}

const MESSAGES = {
  taken: "That time was just taken \u2014 please pick another",
  takenText: "Someone booked it a moment before you. The list of free times has been refreshed.",
  unavailable: "The booking service is not available right now",
  unavailableBooking:
    "Your booking is not confirmed yet. Check your connection and try again \u2014 trying again will never book twice.",
  unavailableLoad: "Available times could not be loaded. Check your connection and try again.",
  invalid: "Please check the highlighted fields",
  botCheck: "Please complete the check below (it shows you are not a robot), then book again.",
  botCheckFailed: "The check that you are not a robot could not be loaded. Reload the page and try again.",
};

const FIELD_HINTS = {
  name: "Enter your name (at most 100 characters).",
  email: "Enter a valid email address, such as name@example.com.",
  notes: "Notes can be at most 1000 characters long.",
};

const TEMPLATE = `
<div class="cb" data-ref="root" hidden>
  <h2 class="cb-title" data-ref="title" tabindex="-1">Book a meeting</h2>
  <p class="cb-zone">Times are shown in your time zone, <strong data-ref="zone"></strong>.</p>
  <p class="cb-sr" role="status" aria-live="polite" aria-atomic="true" data-ref="status"></p>

  <div class="cb-notice" data-ref="notice" hidden>
    <h3 class="cb-notice-title" data-ref="noticeTitle" tabindex="-1"></h3>
    <p class="cb-notice-text" data-ref="noticeText"></p>
    <ul class="cb-notice-list" data-ref="noticeList" hidden></ul>
    <button type="button" class="cb-button cb-secondary" data-ref="retry" hidden>Try again</button>
  </div>

  <form class="cb-form" data-ref="form" novalidate>
    <fieldset class="cb-group" data-ref="whoGroup">
      <legend>Who would you like to meet?</legend>
      <div class="cb-choices" data-ref="calendars"><p class="cb-muted">Loading\u2026</p></div>
    </fieldset>

    <fieldset class="cb-group">
      <legend>How long?</legend>
      <div class="cb-choices" data-ref="durations"></div>
    </fieldset>

    <fieldset class="cb-group">
      <legend>Day</legend>
      <p class="cb-hint" id="cb-days-hint">Use the arrow keys to move between days, Enter to choose one.</p>
      <ul class="cb-days" data-ref="days" aria-describedby="cb-days-hint"></ul>
    </fieldset>

    <fieldset class="cb-group" aria-describedby="cb-slot-error">
      <legend data-ref="slotLegend">Time</legend>
      <p class="cb-hint" id="cb-slots-hint">Use the arrow keys to move between times, Enter to choose one.</p>
      <ul class="cb-slots" data-ref="slots" aria-describedby="cb-slots-hint"></ul>
      <p class="cb-error" id="cb-slot-error" data-ref="slotError" hidden></p>
    </fieldset>

    <fieldset class="cb-group">
      <legend>Your details</legend>
      <div class="cb-field">
        <label for="cb-name">Name</label>
        <input id="cb-name" name="name" type="text" autocomplete="name" maxlength="100" required
               aria-describedby="cb-name-error">
        <p class="cb-error" id="cb-name-error" hidden></p>
      </div>
      <div class="cb-field">
        <label for="cb-email">Email</label>
        <input id="cb-email" name="email" type="email" autocomplete="email" maxlength="254" required
               spellcheck="false" aria-describedby="cb-email-error">
        <p class="cb-error" id="cb-email-error" hidden></p>
      </div>
      <div class="cb-field">
        <label for="cb-notes">Notes <span class="cb-muted">(optional)</span></label>
        <textarea id="cb-notes" name="notes" rows="3" maxlength="1000" aria-describedby="cb-notes-error"></textarea>
        <p class="cb-error" id="cb-notes-error" hidden></p>
      </div>
    </fieldset>

    <div class="cb-field" data-ref="botCheck" hidden>
      <slot name="bot-check"></slot>
      <p class="cb-error" id="cb-bot-error" data-ref="botError" hidden></p>
    </div>

    <p class="cb-summary" data-ref="summary">Pick a day and a time.</p>
    <button type="submit" class="cb-button cb-primary" data-ref="submit">Book this time</button>
  </form>

  <section class="cb-result" data-ref="result" hidden aria-labelledby="cb-result-title">
    <h3 class="cb-result-title" id="cb-result-title" data-ref="resultTitle" tabindex="-1"></h3>
    <p class="cb-result-when" data-ref="resultWhen"></p>
    <p class="cb-muted" data-ref="resultOther" hidden></p>
    <p data-ref="resultMeet" hidden>Video call: <a data-ref="resultMeetLink" rel="noopener noreferrer" target="_blank"></a></p>
    <p class="cb-muted" data-ref="resultManage" hidden>
      Keep this link to cancel later: <a data-ref="resultManageLink">manage this booking</a>
    </p>
    <p class="cb-muted" data-ref="resultRef"></p>
    <div class="cb-actions">
      <button type="button" class="cb-button cb-danger" data-ref="cancel">Cancel this booking</button>
      <button type="button" class="cb-button cb-secondary" data-ref="again">Book another time</button>
    </div>
  </section>
</div>`;

class ApiError extends Error {
  constructor(code, status, message, details = {}, retryAfter = null) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details && typeof details === "object" ? details : {};
    this.retryAfter = retryAfter;
  }

  get unavailable() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  get fields() {
    const fields = this.details.fields;
    return fields && typeof fields === "object" ? fields : {};
  }
}

function uuid() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // Not a secure context (plain http on a non-local host): a version 4 UUID from getRandomValues.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function visitorZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Today's date (YYYY-MM-DD) in an IANA zone. */
function todayIn(zone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
  }).formatToParts(new Date());
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

function addDays(isoDate, days) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** A calendar date (YYYY-MM-DD) formatted on its own, independent of any zone. */
function formatDate(isoDate, options) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" }).format(new Date(Date.UTC(y, m - 1, d)));
}

function formatTime(instant, zone) {
  return new Intl.DateTimeFormat(undefined, { timeStyle: "short", timeZone: zone })
    .format(new Date(instant));
}

/** The local date of an RFC 3339 time as the server wrote it (in the zone it was asked for). */
function localDate(rfc3339) {
  return rfc3339.slice(0, 10);
}

/** Element builder: attributes via setAttribute, children as text nodes. Never parses markup. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Arrow keys, Home and End move focus within a list of buttons; only one of them is in the tab order. */
function rovingKeys(list) {
  list.addEventListener("keydown", (event) => {
    const buttons = [...list.querySelectorAll("button:not([disabled])")];
    const index = buttons.indexOf(event.target);
    if (index < 0) return;
    let next = null;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = buttons[Math.min(index + 1, buttons.length - 1)];
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp") next = buttons[Math.max(index - 1, 0)];
    else if (event.key === "Home") next = buttons[0];
    else if (event.key === "End") next = buttons[buttons.length - 1];
    if (!next) return;
    event.preventDefault();
    for (const button of buttons) button.tabIndex = button === next ? 0 : -1;
    next.focus();
  });
}

function setRovingStop(list, preferred) {
  const buttons = [...list.querySelectorAll("button:not([disabled])")];
  const stop = preferred && buttons.includes(preferred) ? preferred : buttons[0];
  for (const button of buttons) button.tabIndex = button === stop ? 0 : -1;
}

export class CalendarBooking extends HTMLElement {
  static get observedAttributes() {
    return ["api", "calendar", "days"];
  }

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this.state = {
      calendars: [],
      calendar: null, // selected calendar object
      duration: null,
      zone: visitorZone(),
      days: [], // [{date, slots: [{start, end}]}]
      day: null,
      slot: null,
      loadingSlots: false,
      booking: null, // {booking, token}
      busy: false,
    };
    this.attempt = null; // {fingerprint, key}: one Idempotency-Key per booking attempt, reused on retry
    this.bot = { required: false, widget: null, token: null }; // the Turnstile widget, when the API asks for one
    this.slotsGeneration = 0;
    this.started = false;
  }

  connectedCallback() {
    if (this.started) return;
    this.started = true;
    this.render();
    this.loadCalendars().then(() => this.openManageLink());
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (!this.started || oldValue === newValue) return;
    if (name === "api" || name === "calendar") this.loadCalendars();
    else if (name === "days") this.loadSlots();
  }

  // --- configuration ------------------------------------------------------------------------------------------
  get apiBase() {
    const api = (this.getAttribute("api") || "/booking").replace(/\/+$/, "");
    return new URL(`${api}/`, document.baseURI);
  }

  get dayCount() {
    const value = Number.parseInt(this.getAttribute("days") || "", 10);
    return Number.isFinite(value) && value > 0 ? Math.min(value, 60) : DEFAULT_DAYS;
  }

  // --- rendering ----------------------------------------------------------------------------------------------
  render() {
    const link = h("link", { rel: "stylesheet", href: STYLES_URL });
    const holder = document.createElement("template");
    holder.innerHTML = TEMPLATE; // a constant: no data ever goes through innerHTML
    this.shadowRoot.replaceChildren(link, holder.content.cloneNode(true));
    this.ref = {};
    for (const element of this.shadowRoot.querySelectorAll("[data-ref]")) this.ref[element.dataset.ref] = element;
    this.field = {
      name: this.shadowRoot.getElementById("cb-name"),
      email: this.shadowRoot.getElementById("cb-email"),
      notes: this.shadowRoot.getElementById("cb-notes"),
    };
    const reveal = () => { this.ref.root.hidden = false; };
    link.addEventListener("load", reveal);
    link.addEventListener("error", reveal);
    setTimeout(reveal, 3000);

    this.ref.zone.textContent = this.state.zone;
    rovingKeys(this.ref.days);
    rovingKeys(this.ref.slots);
    this.ref.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.ref.cancel.addEventListener("click", () => this.cancel());
    this.ref.again.addEventListener("click", () => this.bookAnother());
    for (const input of Object.values(this.field)) {
      input.addEventListener("input", () => this.setFieldError(input.name, null));
    }
  }

  status(text) {
    // Re-setting the same text is not announced again; clear first so repeated messages are read.
    clearTimeout(this.statusTimer);
    this.ref.status.textContent = "";
    this.statusTimer = setTimeout(() => { this.ref.status.textContent = text; }, 50);
  }

  showNotice({ title, text = "", items = [], retry = null, kind = "error" }) {
    const { notice, noticeTitle, noticeText, noticeList, retry: retryButton } = this.ref;
    notice.hidden = false;
    notice.dataset.kind = kind;
    noticeTitle.textContent = title;
    noticeText.textContent = text;
    noticeText.hidden = !text;
    noticeList.replaceChildren(...items.map(({ label, target }) => {
      const link = h("a", { href: `#${target.id}` }, label);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        target.focus();
      });
      return h("li", {}, link);
    }));
    noticeList.hidden = items.length === 0;
    retryButton.hidden = !retry;
    retryButton.onclick = retry
      ? () => {
        this.clearNotice();
        retry();
      }
      : null;
    noticeTitle.focus();
  }

  clearNotice() {
    this.ref.notice.hidden = true;
    this.ref.retry.onclick = null;
  }

  setFieldError(name, message) {
    const input = this.field[name];
    const error = this.shadowRoot.getElementById(`cb-${name}-error`);
    if (!input || !error) return;
    error.textContent = message || "";
    error.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  setSlotError(message) {
    this.ref.slotError.textContent = message || "";
    this.ref.slotError.hidden = !message;
  }

  // --- API ----------------------------------------------------------------------------------------------------
  async api(method, path, { query = {}, body = undefined, headers = {} } = {}) {
    const url = new URL(path, this.apiBase);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, value);
    }
    const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (typeof AbortSignal !== "undefined" && AbortSignal.timeout) init.signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError("network", 0, "The booking service could not be reached.");
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
      throw new ApiError(
        typeof error.code === "string" ? error.code : `http_${response.status}`,
        response.status,
        typeof error.message === "string" ? error.message : `The booking service answered ${response.status}.`,
        error.details,
        Number.isFinite(retryAfter) ? retryAfter : null,
      );
    }
    if (!data || typeof data !== "object") throw new ApiError("bad_response", 502, "The booking service answered oddly.");
    return { status: response.status, data };
  }

  unavailableText(error, text) {
    if (error.retryAfter && error.retryAfter <= 120) return `${text} You can try again in about ${error.retryAfter} seconds.`;
    return text;
  }

  // --- calendars and durations --------------------------------------------------------------------------------
  async loadCalendars() {
    this.ref.calendars.replaceChildren(h("p", { class: "cb-muted" }, "Loading\u2026"));
    let calendars;
    let botCheck;
    try {
      ({ data: { calendars, botCheck } } = await this.api("GET", "calendars"));
      if (!Array.isArray(calendars)) throw new ApiError("bad_response", 502, "No calendars in the answer.");
    } catch (error) {
      this.ref.calendars.replaceChildren(h("p", { class: "cb-muted" }, "Not available."));
      this.showNotice({
        title: error.unavailable ? MESSAGES.unavailable : "The booking page could not start",
        text: error.unavailable ? this.unavailableText(error, "Please try again in a moment.") : error.message,
        retry: () => this.loadCalendars(),
      });
      return;
    }
    this.setUpBotCheck(botCheck);
    const only = this.getAttribute("calendar");
    this.state.calendars = only ? calendars.filter((c) => c.id === only) : calendars;
    const single = Boolean(only) && this.state.calendars.length === 1;
    this.ref.whoGroup.hidden = single;
    this.ref.title.textContent = single
      ? `Book a meeting with ${String(this.state.calendars[0].name ?? only)}`
      : "Book a meeting";
    if (this.state.calendars.length === 0) {
      this.ref.calendars.replaceChildren(h("p", { class: "cb-muted" }, "Nobody can be booked right now."));
      return;
    }
    const keep = this.state.calendar && this.state.calendars.find((c) => c.id === this.state.calendar.id);
    this.renderCalendars(keep || this.state.calendars[0]);
  }

  renderCalendars(selected) {
    const choices = this.state.calendars.map((calendar) => {
      const input = h("input", {
        type: "radio", name: "calendar", value: calendar.id, id: `cb-calendar-${calendar.id}`,
      });
      input.checked = calendar === selected;
      input.addEventListener("change", () => this.selectCalendar(calendar));
      return h("label", { class: "cb-choice", for: input.id }, input,
        h("span", { class: "cb-choice-text" }, String(calendar.name ?? calendar.id),
          h("span", { class: "cb-choice-sub" }, String(calendar.timezone ?? ""))));
    });
    this.ref.calendars.replaceChildren(...choices);
    this.selectCalendar(selected);
  }

  selectCalendar(calendar) {
    this.state.calendar = calendar;
    const durations = Array.isArray(calendar.durations) ? calendar.durations.filter(Number.isInteger) : [];
    const duration = durations.includes(this.state.duration) ? this.state.duration : durations[0] ?? null;
    const choices = durations.map((minutes) => {
      const input = h("input", { type: "radio", name: "duration", value: minutes, id: `cb-duration-${minutes}` });
      input.checked = minutes === duration;
      input.addEventListener("change", () => {
        this.state.duration = minutes;
        this.loadSlots();
      });
      return h("label", { class: "cb-choice", for: input.id }, input,
        h("span", { class: "cb-choice-text" }, `${minutes} min`));
    });
    this.ref.durations.replaceChildren(...choices);
    this.state.duration = duration;
    this.loadSlots();
  }

  // --- days and slots -----------------------------------------------------------------------------------------
  async loadSlots({ keepNotice = false, live = false } = {}) {
    const { calendar, duration } = this.state;
    if (!calendar || !duration) return;
    const generation = ++this.slotsGeneration;
    if (!keepNotice) this.clearNotice();
    this.setSlotError(null);
    this.state.loadingSlots = true;
    this.ref.days.setAttribute("aria-busy", "true");
    this.ref.slots.setAttribute("aria-busy", "true");
    this.ref.slots.replaceChildren(h("li", { class: "cb-muted" }, "Loading available times\u2026"));
    this.status("Loading available times\u2026");
    const first = todayIn(this.state.zone);
    const last = addDays(first, this.dayCount - 1);
    let data;
    try {
      ({ data } = await this.api("GET", "slots", {
        query: { calendar: calendar.id, from: first, to: last, duration, timezone: this.state.zone, live: live || undefined },
      }));
    } catch (error) {
      if (generation !== this.slotsGeneration) return;
      this.state.loadingSlots = false;
      if (error.status === 400 && "timezone" in error.fields && this.state.zone !== calendar.timezone) {
        this.state.zone = calendar.timezone; // the server does not know the visitor's zone: use the calendar's
        this.ref.zone.textContent = this.state.zone;
        this.loadSlots({ keepNotice });
        return;
      }
      this.ref.slots.replaceChildren(h("li", { class: "cb-muted" }, "No times to show."));
      this.showNotice({
        title: error.unavailable ? MESSAGES.unavailable : "Available times could not be loaded",
        text: error.unavailable ? this.unavailableText(error, MESSAGES.unavailableLoad) : error.message,
        retry: () => this.loadSlots(),
      });
      return;
    } finally {
      if (generation === this.slotsGeneration) {
        this.ref.days.removeAttribute("aria-busy");
        this.ref.slots.removeAttribute("aria-busy");
      }
    }
    if (generation !== this.slotsGeneration) return; // the visitor changed person or duration meanwhile
    this.state.loadingSlots = false;
    if (typeof data.timezone === "string" && data.timezone) {
      this.state.zone = data.timezone;
      this.ref.zone.textContent = data.timezone;
    }
    const byDay = new Map();
    for (let i = 0; i < this.dayCount; i += 1) byDay.set(addDays(first, i), []);
    for (const slot of Array.isArray(data.slots) ? data.slots : []) {
      if (typeof slot?.start !== "string" || typeof slot?.end !== "string") continue;
      const day = localDate(slot.start);
      if (!byDay.has(day)) byDay.set(day, []);
      byDay.get(day).push({ start: slot.start, end: slot.end });
    }
    this.state.days = [...byDay].map(([date, slots]) => ({ date, slots }));
    const total = this.state.days.reduce((sum, day) => sum + day.slots.length, 0);
    const keepDay = this.state.days.find((d) => d.date === this.state.day && d.slots.length);
    const firstDay = this.state.days.find((d) => d.slots.length);
    this.state.day = (keepDay || firstDay || {}).date ?? null;
    const stillThere = keepDay && this.state.slot && keepDay.slots.some((s) => s.start === this.state.slot.start);
    if (!stillThere) this.state.slot = null;
    this.renderDays();
    this.renderSlots();
    this.renderSummary();
    this.status(total
      ? `${total} free ${total === 1 ? "time" : "times"} in the next ${this.dayCount} days.`
      : `No free times in the next ${this.dayCount} days. Try another duration or person.`);
  }

  renderDays() {
    const items = this.state.days.map(({ date, slots }) => {
      const selected = date === this.state.day;
      const count = slots.length;
      const button = h("button", {
        type: "button", class: "cb-day", "data-date": date, "aria-pressed": selected ? "true" : "false",
        disabled: count === 0,
      },
      h("span", { class: "cb-day-name" }, formatDate(date, { weekday: "short" })),
      h("span", { class: "cb-day-date" }, formatDate(date, { day: "numeric", month: "short" })),
      h("span", { class: "cb-day-count" }, count === 0 ? "No times" : `${count} ${count === 1 ? "time" : "times"}`));
      button.addEventListener("click", () => this.selectDay(date));
      return h("li", {}, button);
    });
    this.ref.days.replaceChildren(...items);
    setRovingStop(this.ref.days, this.ref.days.querySelector('[aria-pressed="true"]'));
  }

  selectDay(date) {
    if (this.state.day === date) return;
    this.state.day = date;
    this.state.slot = null;
    for (const button of this.ref.days.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", button.dataset.date === date ? "true" : "false");
    }
    setRovingStop(this.ref.days, this.ref.days.querySelector('[aria-pressed="true"]'));
    this.renderSlots();
    this.renderSummary();
    const day = this.state.days.find((d) => d.date === date);
    this.status(`${formatDate(date, { weekday: "long", day: "numeric", month: "long" })}: ${day.slots.length} free times.`);
  }

  renderSlots() {
    const day = this.state.days.find((d) => d.date === this.state.day);
    const zone = this.state.zone;
    this.ref.slotLegend.textContent = day
      ? `Time on ${formatDate(day.date, { weekday: "long", day: "numeric", month: "long" })}`
      : "Time";
    if (!day || day.slots.length === 0) {
      this.ref.slots.replaceChildren(h("li", { class: "cb-muted" },
        "No free times in this period. Try another duration or person."));
      return;
    }
    const items = day.slots.map((slot) => {
      const selected = this.state.slot && this.state.slot.start === slot.start;
      const button = h("button", {
        type: "button", class: "cb-slot", "data-start": slot.start, "aria-pressed": selected ? "true" : "false",
      }, formatTime(slot.start, zone), h("span", { class: "cb-sr" }, ` to ${formatTime(slot.end, zone)}`));
      button.addEventListener("click", () => this.selectSlot(slot, button));
      return h("li", {}, button);
    });
    this.ref.slots.replaceChildren(...items);
    setRovingStop(this.ref.slots, this.ref.slots.querySelector('[aria-pressed="true"]'));
  }

  selectSlot(slot, button) {
    this.state.slot = slot;
    this.setSlotError(null);
    for (const other of this.ref.slots.querySelectorAll("button")) {
      other.setAttribute("aria-pressed", other === button ? "true" : "false");
    }
    setRovingStop(this.ref.slots, button);
    this.renderSummary();
    this.status(`Selected ${this.describeSlot(slot)}.`);
  }

  describeSlot(slot, zone = this.state.zone) {
    const day = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", timeZone: zone })
      .format(new Date(slot.start));
    return `${day}, ${formatTime(slot.start, zone)}\u2013${formatTime(slot.end, zone)}`;
  }

  renderSummary() {
    const { slot, calendar, duration } = this.state;
    this.ref.summary.textContent = slot
      ? `${this.describeSlot(slot)} (${duration} min) with ${calendar.name ?? calendar.id}.`
      : "Pick a day and a time.";
  }

  // --- booking ------------------------------------------------------------------------------------------------
  submit() {
    if (this.state.busy) return;
    this.clearNotice();
    for (const name of Object.keys(this.field)) this.setFieldError(name, null);
    this.setSlotError(null);
    const name = this.field.name.value.trim();
    const email = this.field.email.value.trim();
    const notes = this.field.notes.value.trim();
    const problems = [];
    if (!this.state.slot) {
      this.setSlotError("Choose a time first.");
      const target = this.ref.slots.querySelector("button[tabindex='0']") || this.ref.title;
      problems.push({ label: "Time: choose a time first.", target });
    }
    if (!name) {
      this.setFieldError("name", "Enter your name.");
      problems.push({ label: "Name: enter your name.", target: this.field.name });
    }
    if (!SIMPLE_EMAIL.test(email)) {
      this.setFieldError("email", FIELD_HINTS.email);
      problems.push({ label: `Email: ${FIELD_HINTS.email}`, target: this.field.email });
    }
    if (problems.length) {
      this.showNotice({ title: MESSAGES.invalid, items: problems });
      return;
    }
    const payload = {
      calendar: this.state.calendar.id,
      start: this.state.slot.start,
      duration: this.state.duration,
      name,
      email,
      timezone: this.state.zone,
    };
    if (notes) payload.notes = notes;
    const fingerprint = JSON.stringify(payload);
    if (!this.attempt || this.attempt.fingerprint !== fingerprint) this.attempt = { fingerprint, key: uuid() };
    this.book(payload, this.attempt);
  }

  setBusy(busy, label) {
    this.state.busy = busy;
    const button = this.ref.submit;
    button.setAttribute("aria-disabled", busy ? "true" : "false");
    button.textContent = busy ? label : "Book this time";
    this.ref.form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  async book(payload, attempt) {
    const headers = { "Idempotency-Key": attempt.key };
    if (this.bot.required) {
      if (!this.bot.token) {
        this.setBotError(MESSAGES.botCheck);
        this.showNotice({ title: MESSAGES.invalid, text: MESSAGES.botCheck });
        return;
      }
      headers[BOT_TOKEN_HEADER] = this.bot.token;
    }
    this.setBusy(true, "Booking\u2026");
    this.status("Booking your meeting\u2026");
    try {
      const { data } = await this.api("POST", "bookings", { body: payload, headers });
      this.attempt = null;
      this.showBooking(data.booking, data.token, "confirmed");
    } catch (error) {
      this.bookingFailed(error, payload, attempt);
    } finally {
      this.resetBotCheck(); // the token was spent (or refused): the next attempt needs a fresh one
      this.setBusy(false);
    }
  }

  // --- bot check (Cloudflare Turnstile) ---------------------------------------------------------------------
  setUpBotCheck(botCheck) {
    const wanted = Boolean(botCheck && botCheck.provider === "turnstile" && typeof botCheck.siteKey === "string");
    this.bot.required = wanted;
    this.ref.botCheck.hidden = !wanted;
    if (!wanted || this.bot.widget !== null) return;
    let holder = this.querySelector(":scope > [slot='bot-check']");
    if (!holder) {
      holder = h("div", { slot: "bot-check", class: "cb-bot-check" });
      this.append(holder); // light DOM: Cloudflare's iframe does not need to reach into the shadow root
    }
    this.bot.widget = "loading";
    loadTurnstile()
      .then((turnstile) => {
        this.bot.widget = turnstile.render(holder, {
          sitekey: botCheck.siteKey,
          action: "booking",
          callback: (token) => {
            this.bot.token = token;
            this.setBotError(null);
          },
          "expired-callback": () => { this.bot.token = null; },
          "error-callback": () => { this.bot.token = null; },
        });
      })
      .catch(() => {
        this.bot.widget = null;
        this.setBotError(MESSAGES.botCheckFailed);
      });
  }

  resetBotCheck() {
    if (!this.bot.required) return;
    this.bot.token = null;
    if (window.turnstile && this.bot.widget !== null && this.bot.widget !== "loading") {
      window.turnstile.reset(this.bot.widget);
    }
  }

  setBotError(message) {
    this.ref.botError.textContent = message || "";
    this.ref.botError.hidden = !message;
  }

  bookingFailed(error, payload, attempt) {
    if (error.unavailable) {
      // The booking may or may not have been made: retry with the same key, which can never book twice.
      this.showNotice({
        title: MESSAGES.unavailable,
        text: this.unavailableText(error, MESSAGES.unavailableBooking),
        retry: () => this.book(payload, attempt),
      });
      return;
    }
    this.attempt = null;
    if (error.status === 409 && error.code === "slot_unavailable") {
      this.state.slot = null;
      this.showNotice({ title: MESSAGES.taken, text: MESSAGES.takenText, kind: "warning" });
      this.loadSlots({ keepNotice: true, live: true }); // the cached availability was behind: ask Google now
      return;
    }
    if (error.status === 400) {
      const items = [];
      let refresh = false;
      for (const [field, expected] of Object.entries(error.fields)) {
        if (field in this.field) {
          const message = FIELD_HINTS[field] || String(expected);
          this.setFieldError(field, message);
          items.push({ label: `${this.labelFor(field)}: ${message}`, target: this.field[field] });
        } else if (field === "start" || field === "duration") {
          const message = typeof expected === "string" && !/pattern|should/.test(expected)
            ? `${expected} Please pick another time.` : "This time cannot be booked. Please pick another time.";
          this.setSlotError(message);
          items.push({ label: `Time: ${message}`, target: this.ref.slots.querySelector("button") || this.ref.title });
          refresh = true;
        }
      }
      this.showNotice({ title: MESSAGES.invalid, text: items.length ? "" : error.message, items });
      if (refresh) {
        this.state.slot = null;
        this.loadSlots({ keepNotice: true });
      }
      return;
    }
    if (error.status === 404) {
      this.showNotice({
        title: "This person can no longer be booked",
        text: "The list has been refreshed; please choose again.",
      });
      this.loadCalendars();
      return;
    }
    this.showNotice({
      title: "The booking did not go through",
      text: error.message,
      retry: () => this.submit(),
    });
  }

  labelFor(field) {
    return { name: "Name", email: "Email", notes: "Notes" }[field] || field;
  }

  // --- confirmation, cancelling, managing ---------------------------------------------------------------------
  calendarName(id) {
    const calendar = this.state.calendars.find((c) => c.id === id);
    return calendar ? String(calendar.name ?? id) : String(id);
  }

  showBooking(booking, token, how) {
    this.state.booking = { booking, token };
    const zone = this.state.zone;
    const { ref } = this;
    ref.form.hidden = true;
    ref.result.hidden = false;
    ref.result.dataset.status = booking.status;
    const cancelled = booking.status === "cancelled";
    ref.resultTitle.textContent = cancelled
      ? (how === "cancelled" ? "Your booking is cancelled" : "This booking is cancelled")
      : (how === "confirmed" ? "You\u2019re booked" : "Your booking");
    const when = `${this.describeSlot(booking, zone)} (${zone})`;
    ref.resultWhen.textContent = cancelled
      ? `${when} with ${this.calendarName(booking.calendar)} \u2014 this time is free again.`
      : `${when} with ${this.calendarName(booking.calendar)}.`;
    const calendar = this.state.calendars.find((c) => c.id === booking.calendar);
    ref.resultOther.hidden = true;
    if (calendar && calendar.timezone && calendar.timezone !== zone && !cancelled) {
      ref.resultOther.hidden = false;
      ref.resultOther.textContent =
        `That is ${formatTime(booking.start, calendar.timezone)} for ${this.calendarName(booking.calendar)} (${calendar.timezone}).`;
    }
    const meet = typeof booking.meetLink === "string" && /^https:\/\//.test(booking.meetLink) ? booking.meetLink : null;
    ref.resultMeet.hidden = !meet || cancelled;
    if (meet) {
      ref.resultMeetLink.href = meet;
      ref.resultMeetLink.textContent = meet;
    }
    ref.resultManage.hidden = cancelled || !token;
    if (token && !cancelled) {
      const url = new URL(window.location.href);
      url.hash = new URLSearchParams({ booking: booking.id, token }).toString();
      ref.resultManageLink.href = url.href;
    }
    ref.resultRef.textContent = `Booking reference: ${booking.id}`;
    ref.cancel.hidden = cancelled || !token;
    this.clearNotice();
    ref.resultTitle.focus();
    this.status(ref.resultTitle.textContent);
    const detail = { booking: { ...booking } };
    this.dispatchEvent(new CustomEvent(cancelled ? "booking-cancelled" : "booking-confirmed",
      { detail, bubbles: true, composed: true }));
  }

  async cancel() {
    const current = this.state.booking;
    if (!current || this.state.busy) return;
    this.state.busy = true;
    this.ref.cancel.setAttribute("aria-disabled", "true");
    this.status("Cancelling\u2026");
    try {
      const { data } = await this.api("DELETE", `bookings/${encodeURIComponent(current.booking.id)}`, {
        headers: { Authorization: `Bearer ${current.token}` },
      });
      this.showBooking(data.booking, null, "cancelled");
    } catch (error) {
      this.showNotice({
        title: error.unavailable ? MESSAGES.unavailable : "The booking could not be cancelled",
        text: error.unavailable
          ? this.unavailableText(error, "Your booking is still in place. Please try again.")
          : error.message,
        retry: () => this.cancel(),
      });
    } finally {
      this.state.busy = false;
      this.ref.cancel.removeAttribute("aria-disabled");
    }
  }

  bookAnother() {
    this.state.booking = null;
    this.state.slot = null;
    this.ref.result.hidden = true;
    this.ref.form.hidden = false;
    this.clearNotice();
    this.ref.title.focus();
    this.loadSlots();
  }

  /** `#booking=ID&token=TOKEN` (the link on the confirmation) opens that booking, to cancel it. */
  async openManageLink() {
    const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    const id = params.get("booking");
    const token = params.get("token");
    if (!id || !token) return;
    this.status("Loading your booking\u2026");
    try {
      const { data } = await this.api("GET", `bookings/${encodeURIComponent(id)}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      this.showBooking(data.booking, token, "manage");
    } catch (error) {
      this.showNotice({
        title: error.unavailable ? MESSAGES.unavailable : "This booking link does not work",
        text: error.unavailable ? "Please try again in a moment." : error.message,
        retry: error.unavailable ? () => this.openManageLink() : null,
      });
    }
  }
}

if (!customElements.get("calendar-booking")) customElements.define("calendar-booking", CalendarBooking);

// One script tag: <script type="module" src=".../booking-widget.js" data-api="..."> puts a widget right after itself.
for (const script of document.querySelectorAll("script[data-api]")) {
  if (script.src !== import.meta.url || script.dataset.mounted) continue;
  script.dataset.mounted = "true";
  const widget = document.createElement("calendar-booking");
  widget.setAttribute("api", script.dataset.api);
  if (script.dataset.calendar) widget.setAttribute("calendar", script.dataset.calendar);
  if (script.dataset.days) widget.setAttribute("days", script.dataset.days);
  script.after(widget);
}
