/* liveblog: keeps the reader's story page current over a WebSocket.
 *
 * Plain modern JavaScript, no build step, no dependencies. The page works without it;
 * with it, posts arrive, change and disappear in place. Every word it shows comes from
 * the server in <script type="application/json" id="liveblog-config">; dates and
 * numbers are formatted with Intl in the reader's locale and the story's time zone.
 *
 * Ordering: events carry seq 1, 2, 3, ... per story. The page says which seq it was
 * rendered at (data-last-seq); the socket resumes with ?after=<last applied>. A seq
 * already applied is ignored; a gap is filled from the events API before going on.
 *
 * Shedding: a server at its reader capacity refuses the socket before the upgrade (503,
 * Retry-After), which a page cannot tell from a network failure. So a socket that never
 * opens puts the page in polling mode: it polls the cacheable events API (the same seq
 * cursor, so every event is applied once), asks the live URL with a plain GET whether
 * there is room (204, or 503 with Retry-After, which it honours with jitter), and goes
 * back to the socket when there is. The reader sees the live page throughout.
 */
(() => {
  "use strict";

  const root = document.getElementById("story");
  const configNode = document.getElementById("liveblog-config");
  if (!root || !configNode || !("WebSocket" in window)) return;
  let cfg;
  try {
    cfg = JSON.parse(configNode.textContent);
  } catch (err) {
    return;
  }
  const T = cfg.text;
  const locale = cfg.locale;
  const byId = (id) => document.getElementById(id);
  const ui = {
    list: byId("updates"),
    pinned: byId("pinned"),
    more: byId("new-updates"),
    announcer: byId("announcer"),
    banner: byId("banner"),
    title: byId("story-title"),
    summary: byId("story-summary"),
    lastUpdate: byId("last-update"),
    lastRelative: byId("last-update-relative"),
    connection: byId("connection"),
    filter: byId("key-filter"),
    empty: byId("empty"),
    emptyKey: byId("empty-key"),
    older: byId("older"),
    olderLink: byId("older-link"),
    loadOlder: byId("load-older"),
    olderStatus: byId("older-status"),
  };

  const TOP_ZONE = 200; // px: further down than this, new posts wait behind the button
  const BASE_DELAY = 500; // ms: reconnect delay cap for the first attempt
  const MAX_DELAY = 30000; // ms: the cap never grows past this
  const STABLE_AFTER = 10000; // ms connected before the backoff starts over
  const OFFLINE_AFTER = 3000; // ms without a connection before the reader is told
  const PAGE_SIZE = 100; // events per request when filling a gap
  const MAX_CATCH_UP = 1000; // events; further behind than this, reload the page instead
  const TICK = 30000; // ms between refreshes of the relative times
  // Polling: `after` is rounded down to a multiple of POLL_ROUND, so every poller within
  // that many events of the head asks for the same URL (one render, one cache entry);
  // the events it already has are skipped by seq. POLL_ROUND must stay below PAGE_SIZE.
  const POLL_ROUND = 20;
  const POLL_EVERY = (Number(cfg.pollSeconds) || 3) * 1000; // ms: the events' max-age
  const SHED_WAIT = 20000; // ms to wait when a refusal names no Retry-After
  const OPEN_TIMEOUT = 10000; // ms a socket may take to open before the page polls instead

  let lastSeq = Number.parseInt(root.dataset.lastSeq, 10) || 0;
  // The newest page shows new posts; an older one (?before=) or one in the oldest-first
  // order only keeps its own posts up to date.
  const oldestFirst = root.dataset.order === "oldest";
  const firstPage = !root.dataset.before && !oldestFirst;
  let storyTitle = ui.title ? ui.title.textContent : document.title;
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  /* ---------- text and time ---------- */

  const fill = (template, values) =>
    String(template).replace(/%(?:%|\((\w+)\)[sd])/g, (match, name) => {
      if (!name) return "%";
      return name in values ? String(values[name]) : match;
    });
  const numbers = new Intl.NumberFormat(locale);
  const plurals = new Intl.PluralRules(locale);
  const countText = (forms, n) =>
    fill(forms[plurals.select(n)] || forms.other || Object.values(forms)[0], {
      num: numbers.format(n),
    });

  const zone = cfg.timezone;
  const wallClock = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  // Hour digits and 12/24-hour clock as the server's Babel pattern writes them.
  const clockFormat = new Intl.DateTimeFormat(locale, { ...cfg.clock, timeZone: zone });
  const dayFormat = new Intl.DateTimeFormat(locale, { timeZone: zone, month: "short", day: "numeric" });
  const fullDayFormat = new Intl.DateTimeFormat(locale, {
    timeZone: zone,
    year: "numeric",
    month: "short",
    day: "numeric",
  });
  const zoneFallback = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: "short" });
  const relativeFormat = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });

  function wall(date) {
    const parts = {};
    for (const part of wallClock.formatToParts(date)) parts[part.type] = part.value;
    return parts;
  }

  /* The zone's abbreviation as the server writes it ("WIB"), found by UTC offset. */
  function zoneName(date, parts) {
    const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24,
      +parts.minute, +parts.second);
    const offset = Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60000);
    const known = cfg.zoneNames[String(offset)];
    if (known) return known;
    const part = zoneFallback.formatToParts(date).find((p) => p.type === "timeZoneName");
    return part ? part.value : "";
  }

  /* Same shapes as the server's Clock.stamp: short ("07.45 WIB"), full (with the date). */
  function stamp(iso) {
    const date = new Date(iso);
    const parts = wall(date);
    // One unbreakable unit, "8:27 AM WIB", as the server writes it.
    const clock = [...clockFormat.format(date).split(/\s+/), zoneName(date, parts)]
      .filter(Boolean).join("\u00a0");
    const full = `${fullDayFormat.format(date)}, ${clock}`;
    const day = `${parts.year}-${parts.month}-${parts.day}`;
    let short = full;
    if (day === cfg.day) short = clock;
    else if (parts.year === cfg.day.slice(0, 4)) short = `${dayFormat.format(date)}, ${clock}`;
    return { iso, short, full };
  }

  function relative(iso, now) {
    const seconds = Math.min(0, (new Date(iso).getTime() - now) / 1000);
    const size = Math.abs(seconds);
    let value = seconds;
    let unit = "second";
    if (size >= 86400 * 320) [value, unit] = [seconds / 31536000, "year"];
    else if (size >= 86400 * 26) [value, unit] = [seconds / 2592000, "month"];
    else if (size >= 3600 * 22) [value, unit] = [seconds / 86400, "day"];
    else if (size >= 60 * 45) [value, unit] = [seconds / 3600, "hour"];
    else if (size >= 45) [value, unit] = [seconds / 60, "minute"];
    return relativeFormat.format(Math.round(value) || 0, unit);
  }

  function refreshTimes() {
    const now = Date.now();
    for (const node of document.querySelectorAll(".post-relative[data-time]")) {
      node.textContent = relative(node.dataset.time, now);
    }
  }

  /* ---------- building posts (textContent everywhere; innerHTML only for the body) ---------- */

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /* What the newsroom wrote is in the story's language, whatever the interface's. */
  function content(node) {
    if (cfg.contentLanguage) node.lang = cfg.contentLanguage;
    return node;
  }

  function timeNode(when, text) {
    const node = make("time", "", text);
    node.dateTime = when.iso;
    return node;
  }

  const STATUSES = Object.keys(T.verification);
  // Badges with their timelines, follow-ups and the "what we know" box (trust.js).
  const trust = window.LiveblogTrust ? window.LiveblogTrust({ cfg, make, stamp, content, fill }) : null;

  function plainBadge(post, status) {
    const badge = make("p", `badge badge-${status}`);
    const label = make("span", "badge-label");
    const icon = make("span", "badge-icon", T.icons[status]);
    icon.setAttribute("aria-hidden", "true");
    label.append(icon, " ", make("span", "badge-text", T.verification[status]));
    badge.append(label);
    const note = post.verification && post.verification.note;
    if (note) badge.append(" ", content(make("span", "badge-note", note)));
    return badge;
  }

  /* The author and co-authors, joined as the reader's language joins a list. */
  let listFormat = null;
  try {
    listFormat = new Intl.ListFormat(locale, { style: "long", type: "conjunction" });
  } catch (err) {
    listFormat = null;
  }
  function byline(post) {
    const names = (post.authors || (post.author ? [post.author] : [])).map((a) => a.name);
    return listFormat ? listFormat.format(names) : names.join(", ");
  }

  function renderPost(post, keep) {
    const status = STATUSES.includes(post.verification && post.verification.status)
      ? post.verification.status
      : "unverified";
    const article = make("article", "post");
    article.id = `post-${post.id}`;
    article.classList.toggle("is-pinned", !!post.pinned);
    article.classList.toggle("is-key", !!post.key_event);
    article.dataset.verification = status;
    article.dataset.version = String(post.version);
    article.dataset.published = post.published_at;
    article.dataset.pinned = post.pinned ? "true" : "false";
    article.dataset.keyEvent = post.key_event ? "true" : "false";
    article.tabIndex = -1;

    const published = stamp(post.published_at);
    const meta = make("header", "post-meta");
    const link = make("a", "post-time");
    link.href = `${cfg.postsPath}${encodeURIComponent(post.id)}${cfg.linkQuery || ""}`;
    link.title = `${published.full} · ${T.permalink}`;
    link.append(timeNode(published, published.short));
    const rel = make("span", "post-relative", relative(post.published_at, Date.now()));
    rel.dataset.time = post.published_at;
    meta.append(link, " ", rel, " ", make("span", "post-author", byline(post)));
    if (post.pinned) meta.append(" ", make("span", "mark mark-pinned", T.pinned));
    if (post.key_event) meta.append(" ", make("span", "mark mark-key", T.keyEvent));
    if (keep.editedAt) {
      const edited = stamp(keep.editedAt);
      const mark = make("span", "mark mark-edited");
      const time = timeNode(edited, fill(T.edited, { time: edited.short }));
      time.title = edited.full;
      mark.append(time);
      meta.append(" ", mark);
    }
    article.append(meta);

    if (post.headline) article.append(content(make("h2", "post-headline", post.headline)));
    article.append(trust ? trust.badge(post, status) : plainBadge(post, status));
    if (keep.notice) {
      const notice = make("p", "status-change", T.now[keep.notice] || "");
      notice.dataset.status = keep.notice;
      article.append(notice);
    }

    const body = content(make("div", "post-body"));
    body.innerHTML = post.body; // sanitized by the server: the one place HTML is trusted
    article.append(body);

    for (const correction of post.corrections || []) {
      const at = stamp(correction.at);
      const p = make("p", "correction");
      const time = timeNode(at, at.short);
      time.title = at.full;
      p.append(make("strong", "correction-label", T.correction), " ", time, " ",
        content(make("span", "correction-note", correction.note)));
      article.append(p);
    }
    if (trust) trust.decorate(article, post);
    return article;
  }

  /* ---------- which posts this page holds ---------- */

  const listed = () => ui.list.querySelectorAll(":scope > .post");
  const publishedOf = (node) => Date.parse(node.dataset.published);
  function dayOf(node) {
    const parts = wall(new Date(node.dataset.published));
    return `${parts.year}-${parts.month}-${parts.day}`;
  }

  /* The span of publication times the list covers: posts older than the oldest loaded
     one stay out while older pages remain to be loaded (they arrive with those pages). */
  let floor = -Infinity;
  let ceiling = Infinity;
  function measureRange() {
    const nodes = listed();
    floor = ui.olderLink && nodes.length ? publishedOf(nodes[nodes.length - 1]) : -Infinity;
    if (!firstPage && nodes.length && ceiling === Infinity) ceiling = publishedOf(nodes[0]);
  }

  function belongs(node) {
    if (node.dataset.pinned === "true") return firstPage;
    const time = publishedOf(node);
    return time >= floor && time <= ceiling;
  }

  /* Newest first, by publication time; pinned posts live in their own section on top. */
  function place(node) {
    const container = node.dataset.pinned === "true" ? ui.pinned : ui.list;
    const time = Date.parse(node.dataset.published);
    let before = null;
    for (const child of container.children) {
      if (child !== node && child.classList.contains("post") && Date.parse(child.dataset.published) <= time) {
        before = child;
        break;
      }
    }
    // A newer post goes above the heading of an older day, not under it.
    const heading = before && before.previousElementSibling;
    if (heading && heading.classList.contains("day-break") && heading.dataset.day !== dayOf(node)) {
      before = heading;
    }
    container.insertBefore(node, before);
  }

  function flash(node) {
    if (reducedMotion.matches) return;
    node.classList.remove("is-fresh");
    void node.offsetWidth; // restart the animation
    node.classList.add("is-fresh");
  }

  /* ---------- new updates: at once near the top, else behind the button ---------- */

  function nearTop() {
    return window.scrollY <= TOP_ZONE || ui.list.getBoundingClientRect().top > 0;
  }

  const pending = () => document.querySelectorAll(".post.is-pending");

  function refreshChrome() {
    const waiting = pending().length;
    ui.more.hidden = waiting === 0;
    if (waiting) ui.more.textContent = countText(T.newUpdates, waiting);
    const base = `${storyTitle} · ${cfg.siteName}`;
    document.title = waiting ? `(${numbers.format(waiting)}) ${base}` : base;
    ui.pinned.hidden = !ui.pinned.querySelector(".post:not(.is-pending)");
    const visible = document.querySelector(".post:not(.is-pending)");
    ui.empty.hidden = !!visible;
    const onlyKey = ui.list.classList.contains("only-key");
    ui.emptyKey.hidden = !onlyKey || !!ui.list.querySelector(".post.is-key:not(.is-pending)");
  }

  function reveal(scroll) {
    const nodes = [...pending()];
    if (!nodes.length) return;
    for (const node of nodes) {
      node.hidden = false;
      node.classList.remove("is-pending");
      flash(node);
    }
    refreshChrome();
    if (scroll) {
      const first = nodes.reduce((a, b) =>
        a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_PRECEDING ? b : a);
      // Up to the newest of them (the top of the updates), and focus it for keyboards.
      first.scrollIntoView({ block: "start", behavior: reducedMotion.matches ? "auto" : "smooth" });
      first.focus({ preventScroll: true });
    }
  }

  let announceTimer = 0;
  let arrived = [];
  function announceArrival(node, waiting) {
    arrived.push({ node, waiting });
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => {
      const batch = arrived;
      arrived = [];
      const waitingNow = pending().length;
      if (waitingNow) announce(countText(T.newUpdates, waitingNow));
      else if (batch.length === 1) {
        const text = batch[0].node.querySelector(".post-body").textContent.trim();
        announce(fill(T.newUpdate, { text: text.length > 160 ? `${text.slice(0, 157)}…` : text }));
      } else announce(countText(T.newUpdates, batch.length));
    }, 400);
  }

  function announce(text) {
    ui.announcer.textContent = "";
    setTimeout(() => { ui.announcer.textContent = text; }, 50);
  }

  /* ---------- applying events ---------- */

  function setLastUpdate(iso) {
    if (!iso || !ui.lastUpdate) return;
    if (Date.parse(iso) < Date.parse(ui.lastUpdate.dateTime)) return;
    const when = stamp(iso);
    ui.lastUpdate.dateTime = when.iso;
    ui.lastUpdate.textContent = when.full;
    ui.lastRelative.dataset.time = when.iso;
    ui.lastRelative.textContent = relative(when.iso, Date.now());
  }

  function postCreated(event) {
    const post = event.post;
    if (!post || !post.id || post.redacted) return; // taken down since: no text to show
    if (byId(`post-${post.id}`)) {
      postUpdated(event);
      return;
    }
    if (!firstPage) return; // new posts belong on the newest page
    const node = renderPost(post, {});
    if (!belongs(node)) return;
    const waiting = pending().length > 0 || !nearTop();
    if (waiting) {
      node.hidden = true;
      node.classList.add("is-pending");
    }
    place(node);
    if (!waiting) flash(node);
    setLastUpdate(post.updated_at || event.at);
    refreshChrome();
    announceArrival(node, waiting);
  }

  function postUpdated(event) {
    const post = event.post;
    if (!post || !post.id || post.redacted) return;
    const old = byId(`post-${post.id}`);
    if (!old) {
      postCreated({ ...event, type: "post.created" });
      return;
    }
    // An older page loaded later may already show a newer version.
    if (Number(post.version) < Number(old.dataset.version)) return;
    const changes = event.changes || [];
    const oldEdited = old.querySelector(".mark-edited time");
    const oldNotice = old.querySelector(".status-change");
    const newStatus = post.verification && post.verification.status;
    const statusChanged = newStatus && newStatus !== old.dataset.verification;
    const keep = {
      editedAt: changes.includes("body") ? event.at || post.updated_at : oldEdited && oldEdited.dateTime,
      notice: statusChanged ? newStatus : oldNotice && oldNotice.dataset.status,
    };
    const node = renderPost(post, keep);
    const wasPending = old.classList.contains("is-pending");
    if (wasPending) {
      node.hidden = true;
      node.classList.add("is-pending");
    }
    const hadFocus = old.contains(document.activeElement);
    if (old.dataset.pinned !== node.dataset.pinned && !oldestFirst) {
      old.remove();
      if (belongs(node)) place(node);
    } else {
      old.replaceWith(node);
    }
    if (hadFocus) (node.querySelector(".post-time") || node).focus({ preventScroll: true });
    if (!wasPending) flash(node);
    if (statusChanged && !wasPending && T.now[newStatus]) announce(T.now[newStatus]);
    setLastUpdate(post.updated_at || event.at);
    refreshChrome();
  }

  function postDeleted(event) {
    const node = event.post && byId(`post-${event.post.id}`);
    if (!node) return;
    const hadFocus = node.contains(document.activeElement);
    const heading = node.previousElementSibling;
    node.remove();
    // A day heading left with no post under it goes too.
    if (heading && heading.classList.contains("day-break")) {
      const next = heading.nextElementSibling;
      if (!next || !next.classList.contains("post")) heading.remove();
    }
    if (hadFocus) ui.list.focus({ preventScroll: true });
    refreshChrome();
  }

  function setStatus(status) {
    const live = status === "live";
    root.dataset.status = status;
    ui.banner.classList.toggle("banner-live", live);
    ui.banner.classList.toggle("banner-ended", !live);
    ui.banner.querySelector(".state-word").textContent = live ? T.live : T.ended;
    ui.banner.querySelector(".banner-text").textContent = live ? T.bannerLive : T.bannerEnded;
  }

  function storyUpdated(event) {
    const values = event.values || {};
    if (typeof values.title === "string") {
      storyTitle = values.title;
      ui.title.textContent = values.title;
    }
    if (typeof values.summary === "string") {
      ui.summary.textContent = values.summary;
      ui.summary.hidden = !values.summary;
    }
    if (values.status === "live" || values.status === "ended") setStatus(values.status);
    refreshChrome();
  }

  const HANDLERS = {
    "post.created": postCreated,
    "post.updated": postUpdated,
    "post.deleted": postDeleted,
    "story.updated": storyUpdated,
  };

  /* Apply the next event in order (the caller has checked seq === lastSeq + 1). */
  function apply(event) {
    lastSeq = event.seq;
    root.dataset.lastSeq = String(lastSeq);
    const handler = HANDLERS[event.type];
    if (!handler) return; // a type this page does not know: skip it, keep the order
    try {
      if (trust) trust.before(event);
      handler(event);
      if (trust) trust.applied(event);
    } catch (err) {
      console.error("liveblog: could not apply event", event.seq, err);
    }
  }

  /* ---------- catching up through the events API ---------- */

  let reloading = false;
  function reload() {
    if (reloading) return;
    reloading = true;
    stop();
    const key = `liveblog-reload:${cfg.slug}`;
    let recent = false;
    try {
      recent = Date.now() - Number(sessionStorage.getItem(key) || 0) < 60000;
      sessionStorage.setItem(key, String(Date.now()));
    } catch (err) {
      /* storage may be unavailable */
    }
    setTimeout(() => window.location.reload(), recent ? 30000 : 0);
  }

  /* Fetch and apply events until lastSeq >= target. Returns false if it could not. */
  async function catchUp(target) {
    while (lastSeq < target) {
      if (target - lastSeq > MAX_CATCH_UP) {
        reload();
        return false;
      }
      let page;
      try {
        const url = new URL(cfg.eventsPath, window.location.href);
        url.searchParams.set("after", String(lastSeq));
        url.searchParams.set("limit", String(PAGE_SIZE));
        const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
        if (!response.ok) return false;
        page = await response.json();
      } catch (err) {
        return false;
      }
      if (typeof page.last_seq === "number" && page.last_seq < lastSeq) {
        reload(); // the log is behind this page: it was rebuilt; start over
        return false;
      }
      const events = Array.isArray(page.events) ? page.events : [];
      let progressed = false;
      for (const event of events) {
        if (event.seq === lastSeq + 1) {
          apply(event);
          progressed = true;
        }
      }
      if (!progressed) return false;
    }
    return true;
  }

  /* ---------- the socket ---------- */

  let socket = null;
  let opened = false; // the current socket got past the upgrade
  let polling = false; // the socket was refused: the events API keeps the page current
  let pollTimer = 0;
  let probeTimer = 0;
  let opening = false;
  let stopped = false;
  let attempt = 0;
  let retryTimer = 0;
  let stableTimer = 0;
  let offlineTimer = 0;
  let queue = Promise.resolve();

  const enqueue = (task) => {
    queue = queue.then(task).catch((err) => console.error("liveblog:", err));
    return queue;
  };

  async function handle(message, from) {
    if (from !== socket || !message || typeof message !== "object") return;
    if (typeof message.seq !== "number") {
      if (message.type === "reset") {
        const serverLast = Number(message.last_seq);
        if (!(serverLast >= lastSeq) || serverLast - lastSeq > MAX_CATCH_UP) reload();
        else await catchUp(serverLast);
      }
      return; // hello, and types this page does not know
    }
    if (message.seq <= lastSeq) return; // already applied
    if (message.seq > lastSeq + 1 && !(await catchUp(message.seq - 1))) {
      if (from === socket) from.close(4000, "gap"); // reconnect: the server replays from lastSeq
      return;
    }
    if (message.seq === lastSeq + 1) apply(message);
  }

  function setOnline(online) {
    if (online) {
      clearTimeout(offlineTimer);
      offlineTimer = 0;
      root.classList.remove("offline");
      // Polling is a normal live state, said quietly: updates come every few seconds.
      ui.connection.textContent = polling ? T.polling : "";
      ui.connection.hidden = !polling;
      return;
    }
    if (offlineTimer || root.classList.contains("offline")) return; // already counting
    offlineTimer = setTimeout(() => {
      offlineTimer = 0;
      if (socket && socket.readyState === WebSocket.OPEN) return;
      root.classList.add("offline");
      ui.connection.textContent = T.reconnecting;
      ui.connection.hidden = false;
    }, OFFLINE_AFTER);
  }

  function socketUrl() {
    const url = new URL(cfg.livePath, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("after", String(lastSeq));
    return url.href;
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (socket || opening || stopped) return;
    opening = true;
    // Wait until every queued event is applied, so `after` is the last one really applied.
    enqueue(() => {
      opening = false;
      if (socket || stopped) return;
      let ws;
      try {
        ws = new WebSocket(socketUrl());
      } catch (err) {
        retry();
        return;
      }
      socket = ws;
      opened = false;
      // A server too busy to answer the upgrade soon is as good as a refusal: poll.
      const openTimer = setTimeout(() => {
        if (socket === ws && !opened) ws.close();
      }, OPEN_TIMEOUT);
      ws.onopen = () => {
        clearTimeout(openTimer);
        opened = true;
        stopPolling();
        setOnline(true);
        clearTimeout(stableTimer);
        stableTimer = setTimeout(() => { attempt = 0; }, STABLE_AFTER);
      };
      ws.onmessage = (e) => {
        let message;
        try {
          message = JSON.parse(e.data);
        } catch (err) {
          return;
        }
        enqueue(() => handle(message, ws));
      };
      ws.onclose = (e) => {
        clearTimeout(openTimer);
        if (socket !== ws) return;
        socket = null;
        clearTimeout(stableTimer);
        if (stopped) return;
        if (!opened) {
          refused(); // shed before the upgrade, or unreachable: poll meanwhile
          return;
        }
        setOnline(false);
        // A server going away (1001) or restarting (1012) is not back within half a
        // second: start the backoff a little further on, still with full jitter.
        if (e.code === 1001 || e.code === 1012) attempt = Math.max(attempt, 2);
        retry();
      };
    });
  }

  /* Full jitter: wait random(0, min(30 s, 0.5 s × 2^attempt)), so readers spread out. */
  function retry() {
    if (stopped || retryTimer) return;
    const cap = Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt);
    attempt = Math.min(attempt + 1, 16);
    retryTimer = setTimeout(connect, Math.random() * cap);
  }

  /* ---------- polling while the socket is refused ---------- */

  const jitter = (ms) => ms * (0.75 + Math.random() * 0.5);

  /* Seconds named by a Retry-After header, in ms (0 when there is none). */
  function retryAfterOf(response) {
    const seconds = Number.parseInt(response.headers.get("Retry-After"), 10);
    return seconds > 0 ? seconds * 1000 : 0;
  }

  /* The socket did not open: poll at once, and ask for room after a full-jitter backoff
     (0.5 s at first, so a refusal's Retry-After is known quickly; longer if the socket
     keeps failing although the server said there was room). */
  function refused() {
    if (!polling) {
      polling = true;
      schedulePoll(0);
    }
    const cap = Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt);
    attempt = Math.min(attempt + 1, 16);
    scheduleProbe(Math.random() * cap);
  }

  function stopPolling() {
    polling = false;
    clearTimeout(pollTimer);
    clearTimeout(probeTimer);
    pollTimer = 0;
    probeTimer = 0;
  }

  function schedulePoll(ms) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, ms);
  }

  function scheduleProbe(ms) {
    clearTimeout(probeTimer);
    probeTimer = setTimeout(probe, ms);
  }

  async function poll() {
    pollTimer = 0;
    if (!polling || stopped) return;
    const wait = await enqueue(pollOnce);
    if (polling && !stopped && !pollTimer) schedulePoll(jitter(wait || POLL_EVERY));
  }

  /* Fetch and apply what is new; return how long to wait before the next poll. */
  async function pollOnce() {
    for (let pages = 0; pages < MAX_CATCH_UP / PAGE_SIZE; pages += 1) {
      const url = new URL(cfg.eventsPath, window.location.href);
      url.searchParams.set("after", String(lastSeq - (lastSeq % POLL_ROUND)));
      url.searchParams.set("limit", String(PAGE_SIZE));
      let page;
      try {
        // The browser's cache keeps it for max-age, then revalidates it (ETag, 304).
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (!response.ok) {
          setOnline(false);
          return retryAfterOf(response) || POLL_EVERY;
        }
        page = await response.json();
      } catch (err) {
        setOnline(false);
        return POLL_EVERY;
      }
      if (!polling) return 0;
      setOnline(true);
      const head = Number(page.last_seq);
      if (head < lastSeq || head - lastSeq > MAX_CATCH_UP) {
        reload(); // rebuilt, or too far behind to replay: start over
        return 0;
      }
      const before = lastSeq;
      for (const event of Array.isArray(page.events) ? page.events : []) {
        if (event.seq === lastSeq + 1) apply(event); // the rest it has, or a gap: skip
      }
      if (head <= lastSeq || lastSeq === before) return POLL_EVERY;
    }
    return POLL_EVERY;
  }

  /* Ask the live URL (no upgrade) whether this server has room for the socket again:
     a 503 or 429 names how long to wait; anything else (204, an error) tries the socket,
     whose failure backs off again in refused(). */
  async function probe() {
    probeTimer = 0;
    if (!polling || stopped || socket || opening) return;
    let wait = 0;
    try {
      const response = await fetch(new URL(cfg.livePath, window.location.href), { cache: "no-store" });
      if (response.status === 503 || response.status === 429) {
        wait = retryAfterOf(response) || SHED_WAIT;
      }
    } catch (err) {
      /* unreachable: the socket attempt will say so, and back off */
    }
    if (!polling || stopped) return;
    if (wait) scheduleProbe(jitter(wait));
    else connect();
  }

  /* Back on screen or back online: no need to sit out the rest of the wait. A socket
     that lived through a locked phone or a change of network may be dead without
     knowing it, so after a long absence it is replaced (resuming from lastSeq). */
  const STALE_AFTER = 30000; // ms hidden
  let hiddenAt = 0;
  function wake(fresh) {
    if (stopped) return;
    if (polling) {
      schedulePoll(0);
      return;
    }
    if (socket && fresh) {
      const old = socket;
      socket = null;
      clearTimeout(stableTimer);
      old.close(4001, "resume");
      connect();
    } else if (retryTimer && !socket) {
      connect();
    }
  }

  function stop() {
    stopped = true;
    stopPolling();
    clearTimeout(retryTimer);
    if (socket) {
      const ws = socket;
      socket = null;
      ws.close();
    }
  }

  /* ---------- older updates, appended below without moving what the reader sees ---------- */

  let loadingOlder = false;

  /* Bring posts rendered at an older seq up to date with the events applied since. */
  async function replaySince(from) {
    let after = from;
    const until = lastSeq;
    while (after < until && until - from <= MAX_CATCH_UP) {
      const url = new URL(cfg.eventsPath, window.location.href);
      url.searchParams.set("after", String(after));
      url.searchParams.set("limit", String(PAGE_SIZE));
      const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!response.ok) return;
      const page = await response.json();
      const events = Array.isArray(page.events) ? page.events : [];
      if (!events.length) return;
      for (const event of events) {
        if (event.seq > until) return;
        after = event.seq;
        const present = event.post && byId(`post-${event.post.id}`);
        if (!present) continue;
        if (event.type === "post.updated") postUpdated(event);
        else if (event.type === "post.deleted") postDeleted(event);
      }
    }
  }

  async function loadOlder() {
    if (loadingOlder || !ui.olderLink) return;
    loadingOlder = true;
    ui.loadOlder.disabled = true;
    ui.olderStatus.textContent = T.loadingOlder;
    try {
      const response = await fetch(ui.olderLink.href, { headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const theirs = doc.getElementById("updates");
      const added = [];
      for (const node of theirs ? theirs.children : []) {
        const last = ui.list.querySelector(":scope > .post:last-of-type");
        if (node.classList.contains("day-break")) {
          // The heading of a day this page already shows the end of is not repeated.
          if (!last || dayOf(last) !== node.dataset.day) ui.list.append(document.importNode(node, true));
          continue;
        }
        if (!node.classList.contains("post") || !node.id || byId(node.id)) continue;
        const mine = document.importNode(node, true);
        ui.list.append(mine); // older than every listed post: they go below, in order
        added.push(mine);
      }
      const next = doc.getElementById("older-link");
      if (next) {
        ui.olderLink.href = next.getAttribute("href");
      } else {
        ui.older.remove();
        ui.olderLink = null;
      }
      measureRange();
      refreshTimes();
      refreshChrome();
      ui.olderStatus.textContent = "";
      if (added.length) added[0].focus({ preventScroll: true });
      const rendered = Number.parseInt(doc.getElementById("story")?.dataset.lastSeq, 10);
      if (rendered < lastSeq) await enqueue(() => replaySince(rendered));
    } catch (err) {
      ui.olderStatus.textContent = T.olderFailed;
    } finally {
      loadingOlder = false;
      if (ui.loadOlder) ui.loadOlder.disabled = false;
    }
  }

  if (ui.olderLink && ui.loadOlder) {
    ui.olderLink.hidden = true;
    ui.loadOlder.hidden = false;
    ui.loadOlder.addEventListener("click", loadOlder);
  }
  measureRange();

  /* ---------- controls ---------- */

  ui.more.addEventListener("click", () => reveal(true));
  ui.filter.hidden = false;
  ui.filter.addEventListener("click", () => {
    const on = ui.filter.getAttribute("aria-pressed") !== "true";
    ui.filter.setAttribute("aria-pressed", on ? "true" : "false");
    ui.list.classList.toggle("only-key", on);
    refreshChrome();
  });

  let scrollQueued = false;
  window.addEventListener("scroll", () => {
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => {
      scrollQueued = false;
      if (nearTop() && window.scrollY <= TOP_ZONE / 4 && pending().length) reveal(false);
    });
  }, { passive: true });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      hiddenAt = Date.now();
      return;
    }
    refreshTimes();
    wake(hiddenAt > 0 && Date.now() - hiddenAt > STALE_AFTER);
    hiddenAt = 0;
  });
  window.addEventListener("online", () => wake(true));
  window.addEventListener("pagehide", stop);
  window.addEventListener("pageshow", (e) => {
    if (e.persisted && stopped && !reloading) {
      stopped = false;
      attempt = 0;
      connect();
    }
  });

  refreshTimes();
  setInterval(refreshTimes, TICK);
  connect();
})();
