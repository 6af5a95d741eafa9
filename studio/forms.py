"""Forms: the guided brief and the options of a generation."""

from django import forms

from .briefs import FIELDS, Brief
from .catalog import RATIOS
from .jobs import MAX_IMAGES

BRIEF_HINTS = {
    "subject": "What dominates the frame. One main idea, named first.",
    "frame": "Composition and shot size: wide, close-up, subject on the left third…",
    "lighting": "Where the light comes from and how it feels: soft window light, firelight…",
    "style": "The look: cinematic, clean product photo, watercolour illustration…",
    "finish": "Optional details and finish: grain, colour grade, texture.",
}
BRIEF_PLACEHOLDERS = {
    "subject": "A ceramic teapot with a chipped spout",
    "frame": "Close-up, centred, low angle",
    "lighting": "Soft morning light from a window on the left",
    "style": "Clean, minimal product photography",
    "finish": "Muted colours, fine film grain",
}
MAX_FIELD = 4000


class BriefForm(forms.Form):
    subject = forms.CharField(max_length=MAX_FIELD, required=False)
    frame = forms.CharField(max_length=MAX_FIELD, required=False)
    lighting = forms.CharField(max_length=MAX_FIELD, required=False)
    style = forms.CharField(max_length=MAX_FIELD, required=False)
    finish = forms.CharField(max_length=MAX_FIELD, required=False, label="Finish and details")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in FIELDS:
            field = self.fields[name]
            field.widget = forms.Textarea(
                attrs={"rows": 2, "placeholder": BRIEF_PLACEHOLDERS[name], "maxlength": MAX_FIELD}
            )
            field.help_text = BRIEF_HINTS[name]

    def brief(self) -> Brief:
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return Brief.from_mapping(data)


class GenerateForm(BriefForm):
    model = forms.CharField(max_length=64)
    aspect_ratio = forms.ChoiceField(choices=[(r, r) for r in RATIOS], initial="1:1")
    quality = forms.CharField(max_length=12, initial="medium")
    n = forms.IntegerField(min_value=1, max_value=MAX_IMAGES, initial=1, label="Images")
