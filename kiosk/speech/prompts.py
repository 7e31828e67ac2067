"""The catalogue of what the kiosk says: prompt keys → message ids of the shared catalogs.

A prompt is one or more message ids, spoken in turn. The ids are the same English message ids the
screens show (so English mode speaks English and the Chinese catalog gives Mandarin); spoken-only
sentences live in ``kiosk/locale/zh_CN/LC_MESSAGES/voice.po``. Every prompt here is fixed text,
pre-rendered to the cache; sentences with numbers or names are built in :mod:`kiosk.speech.sentences`.

Screens name the prompt they speak: their registry name, or ``name.state`` for a state with its
own instruction (``measure.bp``, ``measure.inflating``).
"""
from __future__ import annotations

from kiosk import health
from kiosk.i18n import N_

PROMPTS: dict[str, tuple[str, ...]] = {
    "home": (N_("Welcome. Tap what you would like to do: health check, ask for a service, activities, "
                "volunteers, station information, or help."),),
    "identify": (N_("Place your ID card or citizen card on the reader"),
                 N_("Or hold your QR code up to the camera")),
    "identify.retry": (N_("The card could not be read. Please take it away and place it again."),),
    "consent": (N_("Before we look after your health data"),
                N_("Please read the points on the screen, then tap I agree or I do not agree.")),
    "greeting": (N_("Tap a button below to go on."),),
    "health_menu": (N_("What would you like to measure?"),
                    N_("Tap blood pressure or blood glucose.")),
    "glucose_context": (N_("When did you last eat?"),
                        N_("Tap the answer that fits.")),
    "measure.bp": (N_("Sit down, feet flat, and rest quietly for a moment"),
                   N_("Wrap the cuff around your left upper arm, level with your heart"),
                   N_("Tap Start. Do not talk or move while it measures")),
    "measure.glucose": (N_("Measure your blood sugar on the meter as usual"),
                        N_("Wait until the meter shows your result"),
                        N_("Tap Read result and the kiosk fetches it from the meter")),
    "measure.waiting": (N_("Getting ready…"),),
    "measure.inflating": (N_("Inflating the cuff…"),),
    "measure.deflating": (N_("Measuring, please keep still…"),),
    "measure.reading": (N_("Reading the meter…"),),
    "measure.error": (N_("The measurement did not work. Please read the message on the screen, "
                         "or ask the staff."),),
    "care_consent": (N_("Share your results with your family doctor team?"),
                     N_("Tap Yes, share, or No, do not share. You can change your answer here at any time.")),
    "records": (N_("These are your past results. Tap Done when you have finished."),),
    "health_day": (N_("Staff or volunteer: tap your card to open the screening day"),),
    "health_day.open": (N_("Next resident, please tap your card"),),
    "volunteer": (N_("Tap check in, check out, or record a service."),),
    "service": (N_("What did you do for the resident?"),),
    "service.confirm": (N_("Resident: please tap your card to confirm this service"),),
    "help": (N_("How to use this kiosk"),
             N_("Tap the service you want on the first screen"),
             N_("Place your ID card or citizen card on the reader, or show your QR code"),
             N_("Need a hand? Please ask the staff at the service desk.")),
    "request": (N_("What can we do for you? Tap a picture."),),
    "my_requests": (N_("These are your requests and how they are going."),),
    "tasks": (N_("These are the tasks. Tap one to take it on, or to say it is done."),),
    "wish": (N_("Tap a picture to tell us your wish or your suggestion."),),
    "activities": (N_("These are this week's activities. Tap your card to sign up."),),
    "info": (N_("Station information: opening hours, what we handle, and the canteen."),),
    "family": (N_("Your banked hours put your family members' requests at the front of the queue too."),),
    "family.card": (N_("Family member: please place your ID card or citizen card on the reader"),),
    "family.done": (N_("The family member is linked."),),
    "family.remove": (N_("Remove this family member?"),),
    "greeting.promoted": (N_("Good news: a place has freed up in an activity you were waiting for. "
                             "You are signed up now."),),
    "withdraw": (N_("Staff: place the resident's card to record that they withdraw their consent."),),
    "admin_pin": (N_("Enter the admin PIN"),),
    "admin": (N_("Administration"),),
    "register": (N_("Ask the volunteer to place their resident ID card on the reader"),),
    "idle_warning": (N_("Are you still there?"),
                     N_("Tap Continue, or the kiosk returns to the start.")),
    "urgent": (N_("Please see a staff member now."),),
    "result.intro": (N_("Here is your result."),),
}


def result_texts() -> tuple[str, ...]:
    """Every fixed line a result sentence may contain: each category's title and advice, the call for staff."""
    return tuple(dict.fromkeys(health.category_texts() + (health.SEE_STAFF_NOW,)))


def prompt(key: str) -> tuple[str, ...]:
    """The message ids of prompt ``key`` (a state's key falls back to its screen's: ``measure.x`` → ``measure``).

    Raises:
        KeyError: no such prompt.
    """
    while key not in PROMPTS and "." in key:
        key = key.rsplit(".", 1)[0]
    return PROMPTS[key]
