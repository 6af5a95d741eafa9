from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import ApiToken, Invitation, Membership, Team, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class StudioUserAdmin(UserAdmin):
    list_display = ("username", "email", "is_staff", "date_joined")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "personal", "credit_balance", "created_at")
    search_fields = ("name",)
    readonly_fields = ("credit_balance",)  # changed only through the ledger
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("team", "role", "created_by", "expires_at", "used_at", "revoked_at")
    exclude = ("token_hash",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "hint", "created_at", "last_used_at", "revoked_at")
    exclude = ("token_hash",)
