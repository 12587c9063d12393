/* liveblog: what readers see of the newsroom's checks, kept current by live.js.
 *
 * live.js calls window.LiveblogTrust({...}) once and then uses what it returns: `badge`
 * builds a post's verification badge with its timeline (the markup of _badge.html),
 * `decorate` adds the follow-up lines of a post, and `applied` runs after every event to
 * refresh follow-up links and the "what we know" box from the posts on the page. Every word
 * comes from the server (cfg.text.trust); every text goes in as text.
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
      link.href = `#post-${followup.id}`;
      line.append(link);
      return line;
    }

    /* On a follow-up: a link back to the post it resolves. */
    function followsUpLine(id) {
      const line = make("p", "follows-up");
      const link = make("a", "", X.followsUp);
      link.href = `#post-${id}`;
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

    /* ---------- "what we know / what we don't know yet" ---------- */

    const box = document.getElementById("briefing");

    function excerpt(node) {
      const body = node.querySelector(".post-body");
      const text = (body ? body.textContent : "").replace(/\s+/g, " ").trim();
      return text.length <= EXCERPT ? text : `${text.slice(0, EXCERPT - 1).trimEnd()}…`;
    }

    function fillList(section, claims) {
      const list = section.querySelector("ul");
      list.replaceChildren();
      for (const claim of claims.slice(0, BOX_LIMIT)) {
        const item = make("li", `claim-${claim.status}`);
        const link = content(make("a", "", claim.text));
        link.href = `#post-${claim.id}`;
        if (claim.status === "disputed") item.append(make("strong", "", T.verification.disputed), " ");
        item.append(link);
        list.append(item);
      }
      const more = section.querySelector(".briefing-more");
      const rest = claims.length - BOX_LIMIT;
      more.hidden = rest <= 0;
      more.textContent = rest > 0 ? fill(X.more, { num: rest }) : "";
    }

    function refreshBox() {
      if (!box) return;
      const groups = { known: [], open: [], false: [] };
      const nodes = [...document.querySelectorAll(".post")]
        .sort((a, b) => Date.parse(b.dataset.published) - Date.parse(a.dataset.published));
      for (const node of nodes) {
        const status = node.dataset.verification;
        const group = status === "confirmed" ? "known" : status === "false" ? "false" : "open";
        groups[group].push({ id: node.id.slice(5), status, text: excerpt(node) });
      }
      let shown = false;
      for (const [name, claims] of Object.entries(groups)) {
        const section = box.querySelector(`.briefing-${name}`);
        const wording = section.querySelector(".briefing-text");
        fillList(section, claims);
        section.hidden = !claims.length && !(wording && wording.textContent);
        shown = shown || !section.hidden;
      }
      box.hidden = !shown;
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
      if (event.type.startsWith("post.") || event.type === "story.updated") {
        refreshFollowups();
        refreshBox();
      }
    }

    return { badge, decorate, applied };
  };
})();
