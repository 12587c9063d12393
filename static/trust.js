/* liveblog: what readers see of the newsroom's checks, kept current by live.js.
 *
 * live.js calls window.LiveblogTrust({...}) once and then uses what it returns: `badge`
 * builds a post's verification badge with its timeline (the markup of _badge.html),
 * `decorate` adds the follow-up lines of a post, `before` runs before every event and
 * `applied` after it, to refresh follow-up links (permalinks) and keep the story-wide
 * "what we know" box current. Every word comes from the server (cfg.text.trust); every
 * text goes in as text.
 */
(() => {
  "use strict";

  const OUTCOMES = new Set(["confirmed", "false"]);
  const EXCERPT = 110;
  const BOX_LIMIT = 5;

  window.LiveblogTrust = function ({ cfg, make, stamp, content, fill }) {
    const T = cfg.text;
    const X = T.trust;

    function timeNode(iso, withTitle) {
      const at = stamp(iso);
      const node = make("time", "", at.short);
      node.dateTime = at.iso;
      if (withTitle) node.title = at.full;
      return node;
    }

    /* The badge and, inside it, the post's verification timeline (as _badge.html). */
    function badge(post, status) {
      const box = make("div", `badge badge-${status}`);
      const details = make("details", "verification");
      const summary = make("summary");
      const label = make("span", "badge-label");
      const icon = make("span", "badge-icon", T.icons[status]);
      icon.setAttribute("aria-hidden", "true");
      label.append(icon, " ", make("span", "badge-text", T.verification[status]));
      summary.append(label);
      const note = post.verification && post.verification.note;
      if (note) summary.append(" ", content(make("span", "badge-note", note)));
      const list = make("ol", "verification-history");
      list.setAttribute("aria-label", X.history);
      for (const step of post.verification_history || []) {
        const known = T.verification[step.status] ? step.status : "unverified";
        const item = make("li", `history-step history-${known}`);
        item.append(timeNode(step.at, true), " ", make("span", "history-status", T.verification[known]));
        const reason = step.reason && X.reasons[step.reason];
        if (reason) item.append(" ", make("span", "history-reason", `(${reason})`));
        if (step.note) item.append(" ", content(make("span", "history-note", step.note)));
        list.append(" ", item);
      }
      const help = make("a", "verification-help", X.help);
      help.href = X.helpUrl;
      details.append(summary, " ", list, " ", help);
      // A reader who opened the timeline keeps it open when the post changes live.
      const old = document.querySelector(`#post-${CSS.escape(post.id)} details.verification`);
      if (old && old.open) details.open = true;
      box.append(details);
      return box;
    }

    /* On an earlier post: the outcome and a link to the newest follow-up (as post.html). */
    function followupLine(status, followup) {
      const line = make("p", `followup followup-${status}`);
      if (OUTCOMES.has(status)) {
        line.append(make("strong", "followup-outcome", fill(X.outcome, { status: T.verification[status] })), " ");
      }
      const link = make("a", "", fill(X.seeFollowup, { time: stamp(followup.published_at).short }));
      link.href = postUrl(followup.id);
      line.append(link);
      return line;
    }

    /* On a follow-up: a link back to the post it resolves. */
    function followsUpLine(id) {
      const line = make("p", "follows-up");
      const link = make("a", "", X.followsUp);
      link.href = postUrl(id);
      line.append(link);
      return line;
    }

    function decorate(article, post) {
      if (post.resolves) {
        article.dataset.resolves = post.resolves;
        article.append(followsUpLine(post.resolves));
      }
      const followups = post.followups || [];
      if (followups.length) {
        article.append(followupLine(article.dataset.verification, followups[followups.length - 1]));
      }
    }

    /* Follow-up lines from the posts on the page: the newest post that resolves each one. */
    function refreshFollowups() {
      const newest = new Map();
      for (const node of document.querySelectorAll(".post[data-resolves]")) {
        const known = newest.get(node.dataset.resolves);
        if (!known || Date.parse(node.dataset.published) >= Date.parse(known.published_at)) {
          newest.set(node.dataset.resolves, { id: node.id.slice(5), published_at: node.dataset.published });
        }
      }
      for (const node of document.querySelectorAll(".post")) {
        const old = node.querySelector(":scope > .followup");
        const followup = newest.get(node.id.slice(5));
        if (!followup) {
          if (old) old.remove();
          continue;
        }
        const line = followupLine(node.dataset.verification, followup);
        if (old && old.isEqualNode(line)) continue;
        if (old) old.replaceWith(line);
        else node.append(line);
      }
    }

    /* ---------- "what we know / what we don't know yet" ----------
     *
     * The server renders the box for the whole story: per group a count (data-count) and
     * the newest few posts. Each event moves a post between groups when its previous
     * status is known: from the event itself (a status change carries the post's timeline,
     * whose second-to-last step is the old status), the post on the page, or the box's
     * own lists. When it is not (a post taken down that neither shows, or a replayed event
     * whose text was taken down), or a list runs short, the box is fetched again: one URL
     * per story seq (cacheable, one render on the server however many readers ask),
     * after a random delay and only once per burst of events.
     */

    const box = document.getElementById("briefing");
    const GROUPS = ["known", "open", "false"];
    const groupOf = (status) => (status === "confirmed" ? "known" : status === "false" ? "false" : "open");
    const RECENT = 500; // events kept to replay over a box fetched at an older seq
    const JITTER = 4000; // ms: readers' fetches spread over this window
    const QUIET = 1500; // ms without a new reason before fetching
    const MAX_WAIT = 10000; // ms: the most a burst of reasons postpones the fetch
    let state = null; // {seq, groups: {name: {count, items: [{id, status, text, published}]}}}
    let recent = [];
    let prior = null; // what `before` learned about the event's post
    // The count written as the server writes it (plain digits, as "and %(num)s more").
    const plurals = new Intl.PluralRules(cfg.locale);
    const countText = (forms, n) => fill(forms[plurals.select(n)] || forms.other || Object.values(forms)[0], { num: n });

    function excerptOf(text) {
      const flat = (text || "").replace(/\s+/g, " ").trim();
      return flat.length <= EXCERPT ? flat : `${flat.slice(0, EXCERPT - 1).trimEnd()}…`;
    }

    /* What the box shows of a post: its headline, else the start of its text (as the server). */
    function claimText(post) {
      return post.headline || excerptOf(textOf(post.body));
    }

    function textOf(html) {
      const tpl = document.createElement("template");
      tpl.innerHTML = html || ""; // sanitized by the server; a template runs and loads nothing
      return tpl.content.textContent;
    }

    function readBox() {
      const groups = {};
      for (const name of GROUPS) {
        const section = box.querySelector(`.briefing-${name}`);
        groups[name] = {
          count: Number.parseInt(section.dataset.count, 10) || 0,
          items: [...section.querySelectorAll("li[data-id]")].map((li) => ({
            id: li.dataset.id,
            status: li.dataset.status,
            published: li.dataset.published,
            text: li.querySelector("a").textContent,
          })),
        };
      }
      return groups;
    }

    function postUrl(id) {
      return `${cfg.postsPath}${encodeURIComponent(id)}${cfg.linkQuery || ""}`;
    }

    function fillList(section, group) {
      const list = section.querySelector("ul");
      list.replaceChildren();
      for (const claim of group.items.slice(0, BOX_LIMIT)) {
        const item = make("li", `claim-${claim.status}`);
        item.dataset.id = claim.id;
        item.dataset.status = claim.status;
        item.dataset.published = claim.published;
        const link = content(make("a", "", claim.text));
        link.href = postUrl(claim.id);
        if (claim.status === "disputed") item.append(make("strong", "", T.verification.disputed), " ");
        item.append(link);
        list.append(item);
      }
      section.dataset.count = String(group.count);
      const more = section.querySelector(".briefing-more");
      const rest = group.count - Math.min(group.items.length, BOX_LIMIT);
      more.hidden = rest <= 0;
      more.textContent = rest > 0 ? fill(X.more, { num: rest }) : "";
      // The still-open claims fold behind their count (a reader who opened it keeps it open).
      const fold = section.querySelector(".briefing-fold");
      if (fold) {
        fold.hidden = !group.count;
        fold.querySelector("summary").textContent = countText(X.openCount, group.count);
      }
    }

    function drawBox() {
      if (!box || !state) return;
      let shown = false;
      for (const name of GROUPS) {
        const section = box.querySelector(`.briefing-${name}`);
        const wording = section.querySelector(".briefing-text");
        const group = state.groups[name];
        fillList(section, group);
        section.hidden = !group.count && !(wording && wording.textContent);
        shown = shown || !section.hidden;
      }
      box.hidden = !shown;
    }

    function findItem(id) {
      for (const name of GROUPS) {
        const item = state.groups[name].items.find((c) => c.id === id);
        if (item) return { name, item };
      }
      return null;
    }

    function remove(name, id) {
      const group = state.groups[name];
      group.count = Math.max(0, group.count - 1);
      const before = group.items.length;
      group.items = group.items.filter((c) => c.id !== id);
      // A list that lost a post while more exist than it shows is refilled from the server.
      if (group.items.length < before && group.items.length < BOX_LIMIT && group.count > group.items.length) {
        refetchSoon();
      }
    }

    function insert(name, claim) {
      const group = state.groups[name];
      group.count += 1;
      const at = Date.parse(claim.published);
      const full = group.items.length >= BOX_LIMIT;
      const oldest = group.items.length ? Date.parse(group.items[group.items.length - 1].published) : Infinity;
      // Older than every listed post of a full list: counted, not listed (as the server does).
      if (full && at < oldest) return;
      group.items.push(claim);
      group.items.sort((a, b) => Date.parse(b.published) - Date.parse(a.published));
      group.items = group.items.slice(0, BOX_LIMIT);
    }

    /* Note what the page knows of the event's post before live.js changes the page. */
    function before(event) {
      prior = null;
      const id = event.post && event.post.id;
      if (!id || !box) return;
      const node = document.getElementById(`post-${id}`);
      const listed = state && findItem(id);
      prior = {
        status: node ? node.dataset.verification : listed ? listed.item.status : null,
      };
    }

    /* The status the post had before this event, or undefined when nothing tells. */
    function previousStatus(event, known) {
      const post = event.post;
      if (event.type === "post.updated" && !post.redacted) {
        const changes = event.changes || [];
        if (!changes.includes("verification")) return post.verification.status;
        const steps = post.verification_history || [];
        if (steps.length >= 2) return steps[steps.length - 2].status;
      }
      return known || undefined;
    }

    function boxEvent(event, known) {
      if (!event.type.startsWith("post.") || !event.post || !event.post.id) return;
      const post = event.post;
      const id = post.id;
      if (event.type === "post.created" && !post.redacted) {
        insert(groupOf(post.verification.status), {
          id, status: post.verification.status, published: post.published_at, text: claimText(post),
        });
        return;
      }
      const old = event.type === "post.created" ? undefined : previousStatus(event, known);
      if (!old) {
        refetchSoon(); // nothing on the page says which count this post was in
        return;
      }
      if (event.type === "post.deleted") {
        remove(groupOf(old), id);
        return;
      }
      const status = post.verification.status;
      const claim = { id, status, published: post.published_at, text: claimText(post) };
      if (groupOf(old) !== groupOf(status)) {
        remove(groupOf(old), id);
        insert(groupOf(status), claim);
        return;
      }
      const listed = findItem(id);
      if (listed) Object.assign(listed.item, claim);
    }

    let fetchTimer = 0;
    let fetching = false;
    let again = false;

    let waitingSince = 0;

    function refetchSoon() {
      if (!box || !cfg.briefingPath) return;
      if (fetching) {
        again = true;
        return;
      }
      // A steady stream of reasons delays the fetch, but never past MAX_WAIT.
      if (fetchTimer && Date.now() - waitingSince > MAX_WAIT) return;
      if (!fetchTimer) waitingSince = Date.now();
      clearTimeout(fetchTimer);
      fetchTimer = setTimeout(() => {
        fetchTimer = 0;
        refetch();
      }, QUIET + Math.random() * JITTER);
    }

    async function refetch() {
      fetching = true;
      again = false;
      const seq = Number.parseInt(document.getElementById("story").dataset.lastSeq, 10) || 0;
      try {
        const response = await fetch(`${cfg.briefingPath}?seq=${seq}`, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const doc = await response.json();
        const groups = {};
        for (const name of GROUPS) {
          groups[name] = {
            count: doc[name].count,
            items: doc[name].posts.map((c) => ({ id: c.id, status: c.status, published: c.published, text: c.text })),
          };
        }
        state = { seq: doc.last_seq, groups };
        // Events this page applied after the server's answer was made go on top of it.
        for (const event of recent) {
          if (event.seq > state.seq) {
            boxEvent(event, event._known);
            state.seq = event.seq;
          }
        }
        drawBox();
      } catch (err) {
        again = true; // try again later, as spread out as the first time
      } finally {
        fetching = false;
        if (again) refetchSoon();
      }
    }

    function updateBox(event) {
      if (!box || !state || !event.seq) return;
      if (event.seq <= state.seq) return; // already counted in the box as rendered or fetched
      const known = prior && prior.status;
      recent.push(Object.assign({}, event, { _known: known }));
      if (recent.length > RECENT) recent = recent.slice(-RECENT);
      boxEvent(event, known);
      state.seq = event.seq;
      drawBox();
    }

    if (box) {
      // The seq the server read the counts at (it may be ahead of the page's own).
      state = { seq: Number.parseInt(box.dataset.seq, 10) || 0, groups: readBox() };
    }

    function storyWording(values) {
      if (!box) return;
      for (const [field, name] of [["known", "known"], ["unknown", "open"]]) {
        if (typeof values[field] !== "string") continue;
        const wording = box.querySelector(`.briefing-${name} .briefing-text`);
        wording.textContent = values[field];
        wording.hidden = !values[field];
      }
    }

    function applied(event) {
      if (event.type === "story.updated") storyWording(event.values || {});
      if (event.type === "post.deleted" && event.post) {
        for (const node of document.querySelectorAll(".post[data-resolves]")) {
          if (node.dataset.resolves !== event.post.id) continue;
          delete node.dataset.resolves;
          const line = node.querySelector(":scope > .follows-up");
          if (line) line.remove();
        }
      }
      if (event.type.startsWith("post.")) updateBox(event);
      if (event.type.startsWith("post.") || event.type === "story.updated") {
        refreshFollowups();
        drawBox();
      }
    }

    return { badge, decorate, before, applied };
  };
})();
