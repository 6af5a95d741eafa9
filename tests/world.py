"""A populated team for sweeps: one real object of every kind, so every URL can be filled.

`build_world(user, team)` makes a gallery, a generated version, a masked edit of it
(with its mask file), a finished job, a queued job, a saved brief, an invitation and
an API token; `World.values(name)` answers the values of a URL parameter by its name.
"""

import io
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.core import signing
from PIL import Image

from accounts.models import ApiToken, Invitation, Membership, Role, Team, User
from studio import edits, files, review, sharing
from studio.models import Asset, Comment, Gallery, Job, SavedBrief, ShareLink, Version

from .pipeline import drain, submit


def painted_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> bytes:
    """White where to change, on a transparent canvas, like the editor paints."""
    mask = Image.new("RGBA", size, (0, 0, 0, 0))
    mask.paste((255, 255, 255, 255), box)
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


class UnknownParameter(LookupError):
    """A URL parameter the sweep cannot fill: teach World.values() about it."""


@dataclass
class World:
    team: Team
    owner: User
    gallery: Gallery
    asset: Asset
    version: Version  # a masked edit: it has an original, a thumbnail and a mask
    source_version: Version
    job: Job
    queued_job: Job
    saved_brief: SavedBrief
    invitation: Invitation
    invitation_token: str
    api_token: ApiToken
    bearer: str
    membership: Membership  # a non-owner member's, so removing it is allowed
    share_link: ShareLink
    share_token: str
    comment: Comment

    def signed_token(self, kind: str = "original") -> str:
        """A token for /files/<token>/, as files.signed_url() makes for local storage."""
        signer = signing.TimestampSigner(salt=files.SIGNER_SALT)
        return signer.sign_object({"v": str(self.version.pk), "k": kind})

    def values(self, param: str, route: str = "") -> list[str]:
        """Values of a URL parameter, by name (and by route where a name is ambiguous).

        Most have one value; a file kind or a download format has one per choice."""
        by_route = {
            ("accounts:invite_accept", "token"): self.invitation_token,
            ("studio:signed_file", "token"): self.signed_token(),
            ("studio:shared", "token"): self.share_token,
            ("studio:shared_file", "token"): self.share_token,
            # Django's password reset link: a user id and a token we do not have.
            ("password_reset_confirm", "uidb64"): "MQ",
            ("password_reset_confirm", "token"): "set-password",
        }
        if (route, param) in by_route:
            return [str(by_route[route, param])]
        by_name = {
            "team_id": self.team.pk,
            "gallery_id": self.gallery.pk,
            "asset_id": self.asset.pk,
            "version_id": self.version.pk,
            "job_id": self.job.pk,
            "saved_brief_id": self.saved_brief.pk,
            "brief_id": self.saved_brief.pk,
            "invitation_id": self.invitation.pk,
            "membership_id": self.membership.pk,
            "token_id": self.api_token.pk,
            "link_id": self.share_link.pk,
            "comment_id": self.comment.pk,
            "kind": list(files.KINDS),
            "fmt": ["png", "webp", "jpeg"],
        }
        if param in by_name:
            value = by_name[param]
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
        raise UnknownParameter(
            f"The sweep does not know URL parameter {param!r} (route {route!r}). "
            "Add it to World.values() in tests/world.py, with an object of the team, "
            "so the authorization sweep can try it with every role."
        )


def build_world(
    owner: User, team: Team, member: User | None = None, *, subject: str | None = None
) -> World:
    """Objects of every kind in `team`; `member` (not an owner) supplies the membership."""
    gallery = Gallery.default_for(team)
    source_job = submit(owner, team, **({"subject": subject} if subject else {}))
    async_to_sync(drain)()
    source = Version.objects.select_related("asset").get(job=source_job)
    edit = edits.EditRequest(
        change="Add a kite in the sky",
        mask=painted_mask((source.width, source.height), (10, 10, 200, 200)),
        model="sketch",
    )
    edit_job = edits.submit_edit(owner, source, edit)
    async_to_sync(drain)()
    version = Version.objects.select_related("asset").get(job=edit_job)
    queued_job = submit(owner, team, subject="A queued teapot")
    saved_brief = SavedBrief.objects.create(
        team=team, name="Teapot", brief={"subject": "A teapot"}, created_by=owner
    )
    invitation, invitation_token = Invitation.issue(team, Role.EDITOR, owner)
    api_token, bearer = ApiToken.issue(owner, "sweep")
    if member is None:
        member = User.objects.create_user(f"member-{uuid.uuid4().hex[:8]}")
        Membership.objects.create(team=team, user=member, role=Role.EDITOR)
    membership = Membership.objects.get(team=team, user=member)
    share_link, share_token = sharing.create(owner, asset=version.asset)
    comment = review.add_comment(version, owner, "The kite could be larger")
    return World(
        team=team,
        owner=owner,
        gallery=gallery,
        asset=version.asset,
        version=version,
        source_version=source,
        job=Job.objects.get(pk=edit_job.pk),
        queued_job=queued_job,
        saved_brief=saved_brief,
        invitation=invitation,
        invitation_token=invitation_token,
        api_token=api_token,
        bearer=bearer,
        membership=membership,
        share_link=share_link,
        share_token=share_token,
        comment=comment,
    )
