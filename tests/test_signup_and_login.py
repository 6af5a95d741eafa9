"""Sign up, log in, log out, password change and reset."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Membership, Role, User
from studio.models import CreditEntry

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "a fresh brief 42"


def signup(client, username="nina", password=GOOD_PASSWORD, **extra):
    data = {"username": username, "password1": password, "password2": password, **extra}
    return client.post(reverse("accounts:signup"), data)


def test_signup_creates_personal_team_with_credits_and_logs_in(client, settings):
    response = signup(client, email="nina@example.com")
    assert response.status_code == 302
    user = User.objects.get(username="nina")
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.team.personal
    assert membership.team.credit_balance == settings.STUDIO_STARTING_CREDITS
    assert CreditEntry.objects.get(team=membership.team).amount == settings.STUDIO_STARTING_CREDITS
    assert user.current_team == membership.team
    # Logged in: home leads to the team's gallery.
    gallery_page = client.get(reverse("studio:home"), follow=True)
    assert gallery_page.status_code == 200
    assert b"Nothing here yet" in gallery_page.content


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"password2": "different 42 words"}, "password2", "didn"),
        ({"password1": "123", "password2": "123"}, "password2", "too short"),
        ({"username": ""}, "username", "required"),
        ({"username": "a" * 200}, "username", "at most 150"),
        ({"username": "bad name!"}, "username", "valid username"),
        ({"email": "not-an-email"}, "email", "valid email"),
    ],
)
def test_signup_bad_input_shows_error_and_creates_nothing(client, data, field, message):
    payload = {"username": "nina", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    payload.update(data)
    response = client.post(reverse("accounts:signup"), payload)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field]).lower()
    assert not User.objects.exists()


def test_duplicate_username_is_refused(client, cast):
    response = signup(client, username="olivia")
    assert response.status_code == 200
    assert "already exists" in str(response.context["form"].errors["username"])
    assert User.objects.filter(username="olivia").count() == 1


def test_login_and_logout(client, cast):
    response = client.post(
        reverse("login"), {"username": "olivia", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("studio:home")).status_code == 302  # to the gallery
    client.post(reverse("logout"))
    response = client.get(reverse("studio:home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_wrong_password_is_refused_with_message(client, cast):
    response = client.post(reverse("login"), {"username": "olivia", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_password_change(client, cast):
    client.force_login(cast.owner)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "correct horse battery",
            "new_password1": GOOD_PASSWORD,
            "new_password2": GOOD_PASSWORD,
        },
    )
    assert response.status_code == 302
    cast.owner.refresh_from_db()
    assert cast.owner.check_password(GOOD_PASSWORD)


def test_password_change_with_wrong_old_password_changes_nothing(client, cast):
    client.force_login(cast.owner)
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD},
    )
    assert response.status_code == 200
    cast.owner.refresh_from_db()
    assert cast.owner.check_password("correct horse battery")


def test_password_reset_by_email_link(client, cast):
    response = client.post(reverse("password_reset"), {"email": cast.owner.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD},
    )
    assert response.status_code == 302
    cast.owner.refresh_from_db()
    assert cast.owner.check_password(GOOD_PASSWORD)
    # The link works once.
    assert not client.get(link, follow=True).context["validlink"]


def test_pages_need_login(client):
    for name in (
        "studio:home",
        "accounts:team_list",
        "accounts:team_create",
        "accounts:api_tokens",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
