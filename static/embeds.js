/* Click-to-load embeds. The stored post holds only
 * <figure class="embed" data-provider data-id><a href>…</a></figure>: without this script it
 * is a plain link. With it, the figure becomes a card naming the provider, and the provider's
 * iframe is created only after the reader asks for it: nothing is requested from the
 * provider before that click. No inline code (strict CSP); the words come from this script
 * tag's data attributes. Posts that arrive live are picked up by a MutationObserver. */
(function () {
  "use strict";

  const words = (document.currentScript && document.currentScript.dataset) || {};
  const NAMES = { x: "X", youtube: "YouTube", instagram: "Instagram", tiktok: "TikTok", facebook: "Facebook" };
  const ID = /^[A-Za-z0-9_-]{1,64}$/;
  const FACEBOOK = /^https:\/\/(www\.|m\.)?facebook\.com\//;
  const say = (text, name) => String(text || "").replace(/%\(provider\)s/g, name);

  function frameUrl(provider, id, href) {
    const enc = encodeURIComponent;
    switch (provider) {
      case "youtube": return "https://www.youtube-nocookie.com/embed/" + enc(id) + "?autoplay=1";
      case "x": return "https://platform.twitter.com/embed/Tweet.html?dnt=true&id=" + enc(id);
      case "instagram": return "https://www.instagram.com/p/" + enc(id) + "/embed/";
      case "tiktok": return "https://www.tiktok.com/embed/v2/" + enc(id);
      case "facebook":
        return FACEBOOK.test(href) ? "https://www.facebook.com/plugins/post.php?href=" + enc(href) : null;
      default: return null;
    }
  }

  function load(figure, provider, name, src) {
    const frame = document.createElement("iframe");
    frame.src = src;
    frame.title = say(words.frameTitle, name);
    frame.className = "embed-frame embed-frame-" + provider;
    frame.setAttribute("allow", "autoplay; encrypted-media; fullscreen; picture-in-picture");
    frame.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
    frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-popups allow-presentation");
    const button = figure.querySelector(".embed-load");
    if (button) button.replaceWith(frame); else figure.append(frame);
    const notice = figure.querySelector(".embed-notice");
    if (notice) notice.remove();
    figure.classList.add("embed-loaded");
    frame.focus();
  }

  function enhance(figure) {
    if (figure.dataset.card) return;
    const provider = figure.dataset.provider;
    const id = figure.dataset.id || "";
    const name = NAMES[provider];
    const link = figure.querySelector("a[href]");
    if (!name || !ID.test(id) || !link) return;
    const src = frameUrl(provider, id, link.href);
    if (!src) return;
    figure.dataset.card = "1";
    figure.classList.add("embed-card");
    const label = document.createElement("span");
    label.className = "embed-provider";
    label.textContent = name;
    const notice = document.createElement("span");
    notice.className = "embed-notice";
    notice.textContent = say(words.notice, name);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "embed-load";
    button.textContent = say(words.load, name);
    button.addEventListener("click", () => load(figure, provider, name, src));
    figure.prepend(label);
    figure.append(notice, button);
  }

  function scan(node) {
    if (node.nodeType !== 1) return;
    if (node.matches("figure.embed")) enhance(node);
    for (const figure of node.querySelectorAll("figure.embed")) enhance(figure);
  }

  scan(document.body);
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) scan(node);
  }).observe(document.body, { childList: true, subtree: true });
})();
