import { smsLength } from "../lib/sms";

/** Length, encoding and segments of an SMS text, announced politely as it changes. */
export function SmsCounter({ text, id }: { text: string; id?: string }) {
  const length = smsLength(text);
  const unitsLeft = length.segments <= 1 ? length.perSegment - length.units : null;
  return (
    <span className="sms-counter" id={id} aria-live="polite" data-testid="sms-counter">
      {length.characters} characters · {length.encoding} · {length.segments}{" "}
      {length.segments === 1 ? "segment" : "segments"}
      {unitsLeft !== null && unitsLeft >= 0 ? ` · ${unitsLeft} left in this one` : ""}
      {length.encoding === "UCS-2" ? " (a character outside GSM-7 makes every segment 70/67)" : ""}
    </span>
  );
}
