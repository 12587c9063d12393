"""The words the desk shows that are not in its templates: role names and desk.js's texts."""

from __future__ import annotations

from flask_babel import gettext, lazy_gettext

from ..i18n import VERIFICATION_LABELS
from ..models import Role

ROLE_LABELS = {
    Role.CONTRIBUTOR: lazy_gettext("contributor"),
    Role.REPORTER: lazy_gettext("reporter"),
    Role.EDITOR: lazy_gettext("editor"),
    Role.ADMIN: lazy_gettext("admin"),
}


def desk_messages() -> dict[str, str]:
    """Return the words desk.js shows, in the request's language."""
    labels = {f"status_{s.value}": str(label) for s, label in VERIFICATION_LABELS.items()}
    return {
        **labels,
        "published": gettext("Published."),
        "saved": gettext("Saved."),
        "deleted": gettext("Deleted."),
        "publishing": gettext("Publishing…"),
        "edit": gettext("Edit"),
        "history": gettext("History"),
        "hide_history": gettext("Hide history"),
        "delete": gettext("Delete"),
        "confirm_delete": gettext("Delete this update for every reader?"),
        "yes_delete": gettext("Yes, delete"),
        "delete_reason": gettext("Why (kept in the private history):"),
        "purge": gettext(
            "Also erase the text from the private history (legal takedown; cannot be undone)"
        ),
        "cancel": gettext("Cancel"),
        "save": gettext("Save"),
        "body": gettext("Text"),
        "verification": gettext("Verification"),
        "note": gettext("Verification note"),
        "pinned": gettext("Pinned"),
        "key_event": gettext("Key event"),
        "correction": gettext("Correction note (shown to readers)"),
        "version": gettext("version %(n)s"),
        "edited_by": gettext("by %(name)s"),
        "conflict": gettext(
            "Someone else changed this update while you were editing it: it is now at "
            "version %(n)s. Nothing was overwritten. Compare both versions below."
        ),
        "changed_meanwhile": gettext(
            "This update has just been changed elsewhere (version %(n)s). Saving will show "
            "you both versions first."
        ),
        "yours": gettext("Your version"),
        "theirs": gettext("Their version (now saved)"),
        "reapply": gettext("Apply my changes on top of theirs"),
        "keep_theirs": gettext("Discard mine, keep theirs"),
        "merge": gettext("Edit my version again"),
        "ended": gettext("Ended"),
        "no_posts": gettext("No updates yet."),
        "live": gettext("Live"),
        "connected": gettext("Connected"),
        "reconnecting": gettext("Reconnecting…"),
        "readers_none": gettext("No readers right now"),
        "readers_one": gettext("1 reader now"),
        "readers_many": gettext("%(n)s readers now"),
        "uploading": gettext("Uploading…"),
        "upload_done": gettext("The image is in the text."),
        "error": gettext("Something went wrong. Please try again."),
        "network": gettext("The desk cannot reach the server. Check the connection."),
        "corrections": gettext("Correction"),
        "story_ended": gettext("Coverage of this story has ended."),
        "nothing_changed": gettext("Nothing to save: nothing was changed."),
        "empty_preview": gettext("The preview shows what readers will see."),
        "verdict_locked": gettext("An editor set this status: only an editor can change it."),
        "verdict_binds": gettext(
            "This status judged the text as it stands. Saving a changed text returns the "
            "update to “Unverified claim” unless an editor sets the status again in the "
            "same save."
        ),
        # The history's names for what a revision changed (`PostRevision.changes`).
        "change_created": gettext("created"),
        "change_body": gettext("text"),
        "change_verification": gettext("verification"),
        "change_pinned": gettext("pinned"),
        "change_key_event": gettext("key event"),
        "change_corrections": gettext("correction"),
        "change_resolves": gettext("follow-up"),
        "change_headline": gettext("headline"),
        "change_coauthors": gettext("co-authors"),
        "change_deleted": gettext("deleted"),
        "change_purged": gettext("erased"),
        # The post fields: headline, format, co-authors.
        "headline": gettext("Headline (optional)"),
        "coauthors": gettext("Co-authors"),
        "written_as": gettext("Written as"),
        "format_markdown": gettext("Markdown"),
        "format_text": gettext("Plain text"),
        "format_html": gettext("HTML"),
        # The composer.
        "alt_required": gettext("Describe the image for blind readers (alt text) first."),
        "image_needs_markup": gettext(
            "Plain text cannot hold an image: choose Markdown or HTML first."
        ),
        "sample_bold": gettext("bold text"),
        "sample_italic": gettext("italic text"),
        "sample_link": gettext("link text"),
        "sample_quote": gettext("quote"),
        "sample_list": gettext("item"),
        "sample_source": gettext("who said it"),
        "image_ready": gettext(
            "The image is ready: describe it (alt text), then choose “Upload and insert”."
        ),
        # Drafts and the approval queue (desk-drafts.js).
        "draft_saved": gettext("Saved as a draft: only you and the editors see it."),
        "draft_submitted": gettext("Sent to the editors for approval."),
        "draft_scheduled": gettext("Scheduled: it will be published at %(time)s."),
        "draft_rejected": gettext("Sent back to the contributor with your reason."),
        "draft_editing": gettext("You are editing a saved draft."),
        "draft_reviewing": gettext(
            "You are editing %(name)s's submission: publishing it approves it."
        ),
        "draft_state_draft": gettext("Draft"),
        "draft_state_scheduled": gettext("Scheduled"),
        "draft_state_pending": gettext("Waiting for approval"),
        "draft_state_rejected": gettext("Sent back"),
        "publishes_at": gettext("Publishes at %(time)s"),
        "editor_note": gettext("Editor's note: %(reason)s"),
        "open": gettext("Open"),
        "publish_now": gettext("Publish now"),
        "cancel_schedule": gettext("Cancel the schedule"),
        "schedule_cancelled": gettext("The schedule is cancelled; the draft stays."),
        "schedule_needs_time": gettext("Choose the date and time to publish first."),
        "approve": gettext("Approve and publish"),
        "approved": gettext("Approved and published."),
        "edit_then_approve": gettext("Edit, then approve"),
        "reject": gettext("Send back"),
        "reject_reason": gettext("Why (the contributor reads this):"),
        "no_drafts": gettext("No drafts."),
        "queue_empty": gettext("Nothing waits for approval."),
        "verdict_reaffirm": gettext("I checked the new text: keep this status"),
        "verdict_will_reset": gettext(
            "The text has changed: on saving, this update becomes “Unverified claim”."
        ),
    }
