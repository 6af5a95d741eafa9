from django import forms
from django.contrib.auth.forms import UserCreationForm

from .models import Role, Team, User


class SignUpForm(UserCreationForm):
    email = forms.EmailField(
        required=False, help_text="Optional; used only to reset your password."
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("name",)
        labels = {"name": "Team name"}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the team a name.")
        return name


class InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR, label="Role")


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, label="Role")


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=80, label="Token name", help_text="Where you will use it.")
