"""Business rules. No web, telephony, speech, mail or scheduler library is imported here."""
