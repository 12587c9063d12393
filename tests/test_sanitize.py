"""Tests for liveblog.sanitize: XSS vectors, news HTML that must survive, plain text."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET

import pytest

from liveblog.sanitize import MAX_BODY_CHARS, clean_html, plain_text

try:  # bleach vendors html5lib; use a standalone install if there is one
    import html5lib
except ImportError:  # pragma: no cover - depends on the environment
    from bleach._vendor import html5lib  # type: ignore[no-redef,import-not-found]

REL = "nofollow noopener noreferrer"

# The oracle below re-parses the *output* the way a browser would and checks
# the resulting tree, independently of how liveblog.sanitize works inside.
FORBIDDEN_ELEMENTS = frozenset(
    {
        "script", "style", "iframe", "svg", "math", "noscript", "object", "embed",
        "form", "button", "meta", "base", "link", "template", "textarea", "input",
        "frame", "frameset", "details", "video", "audio", "source",
    }
)  # fmt: skip
ALLOWED_ELEMENTS = frozenset(
    {
        "p", "br", "a", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li",
        "blockquote", "q", "cite", "figure", "figcaption", "img", "h2", "h3",
        "small", "code", "pre", "hr",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "rel"},
    "blockquote": {"cite"},
    "img": {"src", "alt", "width", "height"},
}
FORBIDDEN_ATTRIBUTES = frozenset({"style", "srcset", "formaction", "action", "background"})
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "cite", "action", "formaction", "background", "poster", "data",
        "codebase", "dynsrc", "lowsrc", "longdesc", "ping", "usemap", "srcdoc",
    }
)  # fmt: skip
# Relative and scheme-less URLs are rejected by clean_html, so the oracle
# demands an explicit safe scheme on every URL-bearing attribute.
SAFE_URL_PREFIXES = ("http:", "https:", "mailto:")
# Whitespace and C0/C1 control characters a browser may skip inside a URL.
URL_JUNK_RE = re.compile(r"[\x00-\x20\x7f-\x9f\s]+")


def _parse_like_a_browser(markup: str, *, scripting: bool) -> ET.Element:
    """Parse ``markup`` as a body fragment, as a browser would."""
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    fragment: ET.Element = parser.parseFragment(markup, scripting=scripting)
    return fragment


def assert_safe_tree(markup: str) -> None:
    """Fail unless every element and attribute of the parsed ``markup`` is safe."""
    for scripting in (False, True):
        root = _parse_like_a_browser(markup, scripting=scripting)
        for element in root.iter():
            if element is root:
                continue
            tag = element.tag
            assert isinstance(tag, str), f"comment or PI survived: {markup!r}"
            assert not tag.startswith("{"), f"foreign element {tag} in {markup!r}"
            name = tag.lower()
            assert name not in FORBIDDEN_ELEMENTS, f"<{name}> in {markup!r}"
            assert name in ALLOWED_ELEMENTS, f"unexpected <{name}> in {markup!r}"
            for key, value in element.attrib.items():
                assert not key.startswith("{"), f"namespaced attr {key} in {markup!r}"
                attr = key.lower()
                assert not attr.startswith("on"), f"handler {attr} in {markup!r}"
                assert attr not in FORBIDDEN_ATTRIBUTES, f"{attr}= in {markup!r}"
                assert attr in ALLOWED_ATTRIBUTES.get(name, set()), (
                    f"unexpected {name}[{attr}] in {markup!r}"
                )
                if attr in URL_ATTRIBUTES:
                    normalized = URL_JUNK_RE.sub("", value).lower()
                    assert normalized.startswith(SAFE_URL_PREFIXES), (
                        f"unsafe URL {name}[{attr}]={value!r} in {markup!r}"
                    )
                if name == "a" and attr == "rel":
                    assert value == REL


def _strings(markup: str) -> str:
    """Return markup lowercased with whitespace and control characters removed."""
    return URL_JUNK_RE.sub("", markup).lower()


XSS_VECTORS = [
    # <script> in its many spellings
    ("script-plain", "<script>alert(1)</script>"),
    ("script-mixed-case", "<ScRiPt>alert(1)</sCrIpT>"),
    ("script-nested-split", "<scr<script>ipt>alert(1)</script>"),
    ("script-src", '<script src="https://evil.example/x.js"></script>'),
    ("script-unclosed", "<script>alert(1)"),
    ("script-slash-attr", '<script/xss src="https://evil.example/x.js"></script>'),
    ("script-null-byte", "<scr\x00ipt>alert(1)</scr\x00ipt>"),
    ("script-classic-quotes", '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">'),
    # event handlers
    ("img-onerror", "<img src=x onerror=alert(1)>"),
    ("img-onerror-slashes", '<img/src="x"/onerror="alert(1)">'),
    ("img-onerror-backticks", "<img src=x onerror=`alert(1)`>"),
    ("img-onmouseover-hash", "<IMG SRC=# onmouseover=\"alert('xss')\">"),
    ("a-onclick", '<a href="https://example.org/" onclick="alert(1)">x</a>'),
    ("p-onmouseover", '<p onmouseover="alert(1)">hover</p>'),
    ("strong-onfocus-autofocus", "<strong tabindex=1 onfocus=alert(1) autofocus>x</strong>"),
    ("div-onpointerenter", "<div onpointerenter=alert(1)>x</div>"),
    ("body-onload", "<body onload=alert(1)>x"),
    ("frameset-onload", "<frameset onload=alert(1)>"),
    ("input-autofocus", "<input autofocus onfocus=alert(1)>"),
    ("select-autofocus", "<select autofocus onfocus=alert(1)><option>x</select>"),
    ("marquee-onstart", "<marquee onstart=alert(1)>x</marquee>"),
    ("details-ontoggle", "<details open ontoggle=alert(1)><summary>x</summary></details>"),
    ("video-source-onerror", '<video><source onerror="alert(1)"></video>'),
    ("audio-onerror", "<audio src=x onerror=alert(1)>"),
    ("isindex", "<isindex type=image src=1 onerror=alert(1)>"),
    # javascript: and friends in href
    ("href-javascript", '<a href="javascript:alert(1)">x</a>'),
    ("href-javascript-mixed-case", '<a href="JaVaScRiPt:alert(1)">x</a>'),
    ("href-javascript-unquoted", "<a href=javascript:alert(1)>x</a>"),
    (
        "href-entity-decimal",
        '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    ),
    (
        "href-entity-decimal-no-semicolons",
        '<a href="&#106&#97&#118&#97&#115&#99&#114&#105&#112&#116&#58alert(1)">x</a>',
    ),
    (
        "href-entity-decimal-zero-padded",
        '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099'
        '&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)">x</a>',
    ),
    (
        "href-entity-hex",
        '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">'
        "x</a>",
    ),
    ("href-entity-hex-upper-x", '<a href="&#X6A;avascript:alert(1)">x</a>'),
    ("href-entity-first-letter", '<a href="&#106;avascript:alert(1)">x</a>'),
    ("href-tab-entity", '<a href="jav&#x09;ascript:alert(1)">x</a>'),
    ("href-tab-raw", '<a href="jav\tascript:alert(1)">x</a>'),
    ("href-tab-named-entity", '<a href="&Tab;javascript:alert(1)">x</a>'),
    ("href-newline-entity", '<a href="jav&#x0A;ascript:alert(1)">x</a>'),
    ("href-newline-raw", '<a href="jav\nascript:alert(1)">x</a>'),
    ("href-newline-named-entity", '<a href="java&NewLine;script:alert(1)">x</a>'),
    ("href-cr-entity", '<a href="jav&#x0D;ascript:alert(1)">x</a>'),
    ("href-null-byte", '<a href="java\x00script:alert(1)">x</a>'),
    ("href-leading-spaces", '<a href="   javascript:alert(1)">x</a>'),
    ("href-leading-control-chars", '<a href=" &#14;  \x01javascript:alert(1)">x</a>'),
    ("href-colon-named-entity", '<a href="javascript&colon;alert(1)">x</a>'),
    ("href-colon-decimal-entity", '<a href="javascript&#58;alert(1)">x</a>'),
    ("href-colon-hex-entity", '<a href="javascript&#x3a;alert(1)">x</a>'),
    ("href-vbscript", '<a href="vbscript:msgbox(1)">x</a>'),
    ("href-vbscript-upper", '<a href="VBSCRIPT:msgbox(1)">x</a>'),
    (
        "href-data-text-html",
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    ),
    ("href-data-text-html-plain", '<a href="data:text/html,<script>alert(1)</script>">x</a>'),
    ("href-nested-links", '<a href="https://x.org/"><a href="javascript:alert(1)">y</a></a>'),
    ("href-html-xlink", '<a xlink:href="javascript:alert(1)">x</a>'),
    ("href-ping", '<a href="https://x.org/" ping="https://evil.example/">x</a>'),
    # image sources
    ("img-src-javascript", "<IMG SRC=\"javascript:alert('XSS');\">"),
    ("img-src-javascript-mixed-case", "<IMG SRC=JaVaScRiPt:alert('XSS')>"),
    ("img-src-data", '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">'),
    ("img-src-data-html", '<img src="data:text/html,<script>alert(1)</script>">'),
    (
        "img-srcset-javascript",
        '<img src="https://example.org/a.png" srcset="javascript:alert(1) 1x">',
    ),
    ("img-dynsrc-lowsrc", '<img dynsrc="javascript:alert(1)" lowsrc="javascript:alert(1)">'),
    ("img-src-odd-scheme-onerror", '<img src="x:x" onerror="alert(1)">'),
    # SVG and MathML
    ("svg-onload", "<svg onload=alert(1)>"),
    ("svg-slash-onload", "<svg/onload=alert(1)>"),
    ("svg-script", "<svg><script>alert(1)</script></svg>"),
    (
        "svg-a-xlink-href",
        '<svg><a xlink:href="javascript:alert(1)"><text x=20 y=20>X</text></a></svg>',
    ),
    ("svg-animate-onbegin", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>"),
    ("svg-style-breakout", "<p><svg><style><img src=x onerror=alert(1)></style></svg></p>"),
    (
        "svg-cdata-mxss",
        '<svg><![CDATA[><image xlink:href="]]><img src=xx:x onerror=alert(2)//"></svg>',
    ),
    ("svg-p-style-mxss", '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">'),
    (
        "math-maction-xlink",
        '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">'
        "CLICK<mtext>http://x</mtext></maction></math>",
    ),
    (
        "math-mglyph-style-mxss",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style>"
        "</mglyph></table></mtext></math>",
    ),
    (
        "math-form-mxss",
        "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    ),
    ("math-style-breakout", "<math><style><img src=x onerror=alert(1)></style></math>"),
    # mXSS through raw-text elements
    ("noscript-title-mxss", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'),
    ("noembed-mxss", '<noembed><img title="</noembed><img src=x onerror=alert(1)>"></noembed>'),
    (
        "noframes-mxss",
        '<noframes><img title="</noframes><img src=x onerror=alert(1)>"></noframes>',
    ),
    ("xmp-mxss", '<xmp><img title="</xmp><img src=x onerror=alert(1)>"></xmp>'),
    ("textarea-then-script", "<textarea></textarea><script>alert(1)</script>"),
    ("textarea-rcdata", "<textarea><img src=x onerror=alert(1)></textarea>"),
    ("title-then-script", "<title></title><script>alert(1)</script>"),
    ("template-script", "<template><script>alert(1)</script></template>"),
    ("plaintext", "<plaintext><script>alert(1)</script>"),
    # CSS
    ("style-tag-url", "<style>body{background:url(javascript:alert(1))}</style>"),
    ("style-tag-import", "<style>@import 'https://evil.example/x.css';</style>"),
    ("style-attr-expression", '<p style="width: expression(alert(1))">x</p>'),
    ("style-attr-expression-comment", '<p style="x:ex/**/pression(alert(1))">x</p>'),
    ("style-attr-url-javascript", '<p style="background:url(javascript:alert(1))">x</p>'),
    ("div-style-url-javascript", "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">"),
    (
        "a-style-overlay",
        '<a href="https://x.org/" style="position:fixed;top:0;left:0;width:100%">x</a>',
    ),
    # frames, plugins
    ("iframe-srcdoc", '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>'),
    ("iframe-src-javascript", '<iframe src="javascript:alert(1)"></iframe>'),
    ("object-data", '<object data="javascript:alert(1)"></object>'),
    ("object-param", '<object><param name=movie value="javascript:alert(1)"></object>'),
    ("embed-src", '<embed src="javascript:alert(1)">'),
    ("applet", '<applet code="Evil.class" codebase="https://evil.example/"></applet>'),
    # comments
    ("comment-broken-open", "<!--><script>alert(1)</script>-->"),
    ("comment-bang-close", "<!-- --!><script>alert(1)</script>"),
    ("comment-conditional", "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->"),
    ("comment-downlevel-revealed", "<![if !IE]><script>alert(1)</script><![endif]>"),
    ("cdata-section-in-html", "<![CDATA[<script>alert(1)</script>]]>"),
    ("processing-instruction", "<?xml-stylesheet href='x'?><script>alert(1)</script>"),
    # quote breakouts
    ("breakout-double-quote", '"><script>alert(1)</script>'),
    ("breakout-single-quote", "'><img src=x onerror=alert(1)>"),
    ("breakout-title-attr", '<a href="http://x" title=\'" onmouseover=alert(1) x="\'>x</a>'),
    ("breakout-alt-attr", '<img src="https://x.org/a.png" alt="x\\" onerror=alert(1) y=\\"">'),
    # forms and document-level elements
    ("form-action", "<form action=javascript:alert(1)><input type=submit></form>"),
    ("button-formaction", "<button formaction=javascript:alert(1)>x</button>"),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    ("base-href", '<base href="javascript:alert(1)//">'),
    ("link-import", '<link rel=import href="https://evil.example/x.html">'),
    ("link-stylesheet", '<link rel=stylesheet href="https://evil.example/x.css">'),
    ("table-background", '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>'),
    ("body-background", "<BODY BACKGROUND=\"javascript:alert('XSS')\">"),
    ("blockquote-cite-javascript", '<blockquote cite="javascript:alert(1)">q</blockquote>'),
    (
        "polyglot",
        "javascript:/*--></title></style></textarea></script></xmp>"
        "<svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>",
    ),
]


def test_enough_distinct_vectors() -> None:
    ids = [vector_id for vector_id, _ in XSS_VECTORS]
    payloads = [payload for _, payload in XSS_VECTORS]
    assert len(set(ids)) == len(ids)
    assert len(set(payloads)) == len(payloads)
    assert len(XSS_VECTORS) >= 45


@pytest.mark.parametrize(
    "payload", [pytest.param(payload, id=vector_id) for vector_id, payload in XSS_VECTORS]
)
def test_xss_vector_is_neutralised(payload: str) -> None:
    out = clean_html(payload)
    assert_safe_tree(out)
    # Cheap string checks on top of the tree walk: markup can only appear
    # escaped, and no dangerous scheme is left inside an attribute value.
    flat = _strings(out)
    for needle in (
        "<script",
        "<svg",
        "<math",
        "<iframe",
        "<style",
        "<object",
        "<embed",
        "<noscript",
        "<template",
        "<textarea",
        "<form",
        "<meta",
        "<base",
    ):
        assert needle not in flat
    for scheme in ("javascript:", "vbscript:", "data:"):
        assert f'="{scheme}' not in flat
    assert clean_html(out) == out


@pytest.mark.parametrize(
    "tag",
    [
        "script", "style", "iframe", "noscript", "template", "object", "textarea",
        "title", "xmp", "noembed", "noframes", "ScRiPt", "STYLE",
    ],
)  # fmt: skip
def test_dangerous_element_content_is_removed(tag: str) -> None:
    out = clean_html(f"before<{tag}>SECRET <em>SECRET</em> SECRET</{tag}>after")
    assert out == "beforeafter"


@pytest.mark.parametrize("tag", ["svg", "math", "SVG"])
def test_foreign_content_is_removed(tag: str) -> None:
    # HTML elements such as <em> would break out of foreign content (as in a
    # browser), so only foreign-looking markup is used inside.
    out = clean_html(f"before<{tag}><g>SECRET</g><text>SECRET</text> SECRET</{tag}>after")
    assert out == "beforeafter"


def test_foreign_content_breakout_is_sanitized_html() -> None:
    out = clean_html("<svg>SECRET<em onclick=x>shown</em></svg>")
    assert out == "<em>shown</em>"


def test_plaintext_removes_everything_after_it() -> None:
    assert clean_html("<p>kept</p><plaintext>SECRET</p>") == "<p>kept</p>"


def test_embed_is_removed() -> None:
    assert clean_html('a<embed src="https://x.org/a.swf">b') == "ab"


def test_comments_are_removed() -> None:
    assert clean_html("a<!-- note -->b") == "ab"


# --- news HTML that must survive -------------------------------------------------


def test_paragraph_with_strong_and_em_survives() -> None:
    html = "<p>Breaking: <strong>ministers</strong> resign <em>en masse</em>.</p>"
    assert clean_html(html) == html


def test_inline_formatting_survives() -> None:
    html = "<p><b>b</b> <i>i</i> <u>u</u> <s>s</s> <small>small</small> <code>x = 1</code></p>"
    assert clean_html(html) == html


def test_link_gets_exact_rel() -> None:
    out = clean_html('<a href="https://example.org/story">story</a>')
    assert out == f'<a href="https://example.org/story" rel="{REL}">story</a>'


def test_link_rel_and_target_are_replaced() -> None:
    out = clean_html('<a href="https://example.org/" rel="opener" target="_blank" title="t">x</a>')
    assert out == f'<a href="https://example.org/" rel="{REL}">x</a>'


def test_mailto_link_survives() -> None:
    out = clean_html('<a href="mailto:desk@example.org">desk</a>')
    assert out == f'<a href="mailto:desk@example.org" rel="{REL}">desk</a>'


def test_link_with_unsafe_href_keeps_only_its_text() -> None:
    out = clean_html('<a href="javascript:alert(1)">click</a>')
    assert plain_text(out) == "click"
    assert "href" not in out


def test_relative_link_loses_href() -> None:
    assert "href" not in clean_html('<a href="/admin">x</a>')
    assert "href" not in clean_html('<a href="//evil.example/">x</a>')


def test_query_string_ampersands_are_escaped_once() -> None:
    out = clean_html('<a href="https://example.org/?a=1&amp;b=2">q</a>')
    assert out == f'<a href="https://example.org/?a=1&amp;b=2" rel="{REL}">q</a>'


def test_bare_url_becomes_link() -> None:
    out = clean_html("Baca selengkapnya: https://example.org/path")
    assert out == (
        "Baca selengkapnya: "
        f'<a href="https://example.org/path" rel="{REL}">https://example.org/path</a>'
    )


def test_bare_url_with_query_becomes_link() -> None:
    out = clean_html("see https://example.org/p?a=1&b=2 now")
    assert out == (
        f'see <a href="https://example.org/p?a=1&amp;b=2" rel="{REL}">'
        "https://example.org/p?a=1&amp;b=2</a> now"
    )


def test_url_inside_existing_link_is_not_linkified_again() -> None:
    html = f'<a href="https://example.org/" rel="{REL}">https://example.org/</a>'
    assert clean_html(html) == html


@pytest.mark.parametrize(
    "html",
    [
        "<pre>curl https://example.org/api</pre>",
        "<code>https://example.org/api</code>",
        "<pre><code>a https://x.org/</code> https://y.org/</pre>",
        "<p><code><b>https://x.org/</b></code></p>",
    ],
)
def test_url_inside_pre_or_code_is_not_linkified(html: str) -> None:
    assert clean_html(html) == html


def test_blockquote_with_cite_survives() -> None:
    html = '<blockquote cite="https://example.org/speech"><p>Kita harus bersatu.</p></blockquote>'
    assert clean_html(html) == html


def test_blockquote_with_bad_cite_keeps_quote() -> None:
    out = clean_html('<blockquote cite="javascript:alert(1)">q</blockquote>')
    assert out == "<blockquote>q</blockquote>"


def test_q_and_cite_survive() -> None:
    html = "<p><q>Ini bersejarah</q>, kata <cite>Kompas</cite>.</p>"
    assert clean_html(html) == html


def test_figure_with_image_survives() -> None:
    html = (
        '<figure><img src="https://cdn.example.org/a.jpg" alt="Banjir di Jakarta" '
        'width="640" height="360"><figcaption>Banjir di Jakarta, Senin.</figcaption></figure>'
    )
    assert clean_html(html) == html


def test_image_loses_only_srcset() -> None:
    out = clean_html(
        '<img src="http://example.org/a.jpg" srcset="http://example.org/a2.jpg 2x" alt="A">'
    )
    assert out == '<img src="http://example.org/a.jpg" alt="A">'


def test_image_with_non_numeric_size_loses_size() -> None:
    out = clean_html('<img src="https://example.org/a.jpg" width="100%" height="1e9">')
    assert out == '<img src="https://example.org/a.jpg">'


def test_headings_lists_and_rules_survive() -> None:
    html = (
        "<h2>Pembaruan</h2><h3>Pukul 10.00</h3><ul><li>satu</li><li>dua</li></ul>"
        "<ol><li>tiga</li></ol><hr><p>a<br>b</p>"
    )
    assert clean_html(html) == html


def test_disallowed_harmless_tags_are_unwrapped() -> None:
    assert clean_html("<span>a</span> <font>b</font>") == "a b"
    assert clean_html("<h1>Title</h1>") == "Title"


def test_script_then_text_keeps_only_text() -> None:
    assert clean_html("<script>alert(1)</script>hello") == "hello"


def test_special_characters_are_escaped() -> None:
    assert clean_html("Harga < Rp 5.000 & naik > 3%") == "Harga &lt; Rp 5.000 &amp; naik &gt; 3%"


def test_existing_entities_are_not_double_escaped() -> None:
    assert clean_html("a &amp; b &lt;c&gt; &copy;") == "a &amp; b &lt;c&gt; &copy;"


def test_indonesian_text_is_unchanged() -> None:
    text = (
        "Jakarta — Presiden menyampaikan pidato di Istana Merdeka pada Kamis (17/8). "
        "“Kita harus bersatu,” ujarnya. Suhu mencapai 34°C; warga diimbau minum air."
    )
    assert clean_html(text) == text
    assert clean_html(f"<p>{text}</p>") == f"<p>{text}</p>"


def test_newlines_in_text_are_kept() -> None:
    assert clean_html("baris satu\nbaris dua") == "baris satu\nbaris dua"


@pytest.mark.parametrize(
    "raw", ["", "   ", "\n\t ", "<!-- x -->", "<script>x</script>", "<svg></svg> \n"]
)
def test_empty_results(raw: str) -> None:
    assert clean_html(raw) == ""


def test_result_is_stripped() -> None:
    assert clean_html("  \n<p>x</p>\n  ") == "<p>x</p>"


def test_pre_leading_newline_is_stable() -> None:
    out = clean_html("<pre>\n\ncode</pre>")
    assert clean_html(out) == out
    root = _parse_like_a_browser(out, scripting=True)
    assert root[0].text == "\ncode"


def test_deep_nesting_does_not_crash() -> None:
    raw = "<b>" * 5000 + "x"
    assert len(raw) <= MAX_BODY_CHARS
    out = clean_html(raw)
    assert plain_text(out) == "x"


@pytest.mark.parametrize(
    "html",
    [
        "<p>Breaking: <strong>x</strong> https://example.org/a?b=1&c=2</p>",
        "<pre>\n\n\nx</pre>",
        "<div>a</div><div>b</div>",
        "a &amp;amp; b &nbsp; c &#128; d &#0; e",
        "<p>a<p>b<li>c",
        "<a href='https://x.org/'><b>bold</b> https://y.org/</a>",
        "kompas.com dan detik.com",
        "<b><p>x</b>y</p>",
        "<img src='https://x.org/a.png' alt='a\"b<c>'>",
        "<p>ctrl\x01char\x7f</p>",
    ],
)
def test_clean_is_idempotent(html: str) -> None:
    out = clean_html(html)
    assert clean_html(out) == out
    assert_safe_tree(out)


FUZZ_TAGS = (
    "p", "a", "b", "em", "li", "ul", "blockquote", "h2", "h3", "pre", "code", "img", "q",
    "div", "table", "td", "select", "form", "svg", "math", "mtext", "style", "script",
    "noscript", "textarea", "title", "xmp", "template", "object", "iframe", "h1", "nobr",
)  # fmt: skip
FUZZ_ATTRS = (
    "", " href='https://x.org/a?b=1&c=2'", ' href="&#106;avascript:x"', " src=x onerror=f()",
    " src=https://x.org/i.png", " alt='a\"b&amp;c<d>'", " cite='https://y.org/\"q'",
    " style='x:expression(1)'", " title=\"</p><script>\"", " xlink:href='javascript:1'",
)  # fmt: skip
FUZZ_TEXTS = (
    "x", " ", "\n", "\n\n", "&amp;", "&lt;", "&", "<", ">", '"', "https://example.org/p?q=1",
    "\x00", "\x01", "&#0;", "&#106", "<!--", "-->", "<![CDATA[", "]]>", "é", "&Tab;",
)  # fmt: skip


def test_random_markup_is_safe_and_idempotent() -> None:
    rng = random.Random(20240817)
    for _ in range(400):
        parts = []
        for _ in range(rng.randint(1, 25)):
            roll = rng.random()
            tag = rng.choice(FUZZ_TAGS)
            if roll < 0.4:
                parts.append(f"<{tag}{rng.choice(FUZZ_ATTRS)}>")
            elif roll < 0.6:
                parts.append(f"</{tag}>")
            else:
                parts.append(rng.choice(FUZZ_TEXTS))
        raw = "".join(parts)
        out = clean_html(raw)
        assert_safe_tree(out)
        assert clean_html(out) == out, raw


def test_max_body_chars() -> None:
    assert MAX_BODY_CHARS == 20000


# --- plain_text -------------------------------------------------------------------


def test_plain_text_removes_tags_and_decodes_entities() -> None:
    html = "<p>Harga &lt; Rp 5.000 &amp; <strong>naik</strong></p>"
    assert plain_text(html) == "Harga < Rp 5.000 & naik"


def test_plain_text_collapses_whitespace_and_separates_blocks() -> None:
    html = "<h2>Judul</h2>\n\n<p>satu\n  dua</p><p>tiga</p><ul><li>a</li><li>b</li></ul>"
    assert plain_text(html) == "Judul satu dua tiga a b"


def test_plain_text_br_separates_words() -> None:
    assert plain_text("a<br>b") == "a b"


def test_plain_text_drops_script_and_style_content() -> None:
    assert plain_text("<style>p{}</style><script>alert(1)</script>berita") == "berita"


def test_plain_text_keeps_link_text_and_non_ascii() -> None:
    html = f'Lihat <a href="https://example.org/" rel="{REL}">di sini</a> — “kutipan”'
    assert plain_text(html) == "Lihat di sini — “kutipan”"


def test_plain_text_of_empty_input() -> None:
    assert plain_text("") == ""
    assert plain_text("  <p> </p> ") == ""


def test_plain_text_of_a_stored_body_skips_the_second_clean() -> None:
    stored = clean_html("<p>Siaran <strong>tersendat</strong> &amp; molor</p><p>lagi</p>")
    assert (
        plain_text(stored, sanitized=True) == plain_text(stored) == "Siaran tersendat & molor lagi"
    )
