#!/usr/bin/python3
"""Reads kith's vCard and ICS exports with independent parsers (Debian's
python3-vobject and python3-icalendar) and prints one JSON object per card
or event. Exits 1, naming the problem, if anything does not parse or a
required property is missing.

    parse_export.py vcard FILE
    parse_export.py ics FILE
"""
import json
import sys


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def values(card, name):
    return [c.value for c in card.getChildren() if c.name == name.upper()]


def vcard(path):
    import vobject

    try:
        text = open(path, "rb").read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"cannot read {path} as UTF-8 text: {e}")
    n = 0
    try:
        for card in vobject.readComponents(text):
            n += 1
            if "fn" not in card.contents or "version" not in card.contents:
                fail(f"card {n} lacks FN or VERSION")
            org = values(card, "ORG")
            print(json.dumps({
                "fn": card.fn.value,
                "version": card.version.value,
                "emails": values(card, "EMAIL"),
                "tels": values(card, "TEL"),
                "bday": (values(card, "BDAY") or [None])[0],
                "uid": (values(card, "UID") or [None])[0],
                "org": org[0] if org else None,
                "categories": [c for v in values(card, "CATEGORIES") for c in v],
                "notes": values(card, "NOTE"),
                "related": values(card, "RELATED") + values(card, "X-ABRELATEDNAMES"),
                "x-ablabel": values(card, "X-ABLABEL"),
            }, default=str))
    except Exception as e:  # vobject raises many kinds
        fail(f"card {n + 1}: {e}")
    if n == 0:
        fail("no cards")


def ics(path):
    import datetime
    import icalendar

    try:
        cal = icalendar.Calendar.from_ical(open(path, "rb").read())
    except Exception as e:  # includes OSError and ValueError
        fail(f"not iCalendar: {e}")
    if cal.name != "VCALENDAR":
        fail(f"not iCalendar: top component is {cal.name}")
    for ev in cal.walk("VEVENT"):
        for prop in ("UID", "DTSTART", "SUMMARY", "DTSTAMP"):
            if prop not in ev:
                fail(f"an event lacks {prop}")
        start = ev.decoded("DTSTART")
        all_day = isinstance(start, datetime.date) and not isinstance(start, datetime.datetime)
        rrule = ev.get("RRULE")
        print(json.dumps({
            "uid": str(ev["UID"]),
            "summary": str(ev["SUMMARY"]),
            "dtstart": start.isoformat(),
            "all_day": all_day,
            "rrule": rrule.to_ical().decode() if rrule else None,
        }))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("vcard", "ics"):
        fail(__doc__)
    {"vcard": vcard, "ics": ics}[sys.argv[1]](sys.argv[2])
