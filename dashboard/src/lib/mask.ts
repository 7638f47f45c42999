// Recipients are personal data: lists show them masked, keeping just enough to tell
// two apart (country code and prefix, last three digits; an address's first letter and domain).

const DOT = "•";

export function maskRecipient(recipient: string): string {
  const at = recipient.lastIndexOf("@");
  if (at > 0) return maskEmail(recipient.slice(0, at), recipient.slice(at));
  if (/^\+?[0-9 ()-]{6,}$/.test(recipient)) return maskPhone(recipient.replace(/[ ()-]/g, ""));
  return maskOpaque(recipient);
}

function maskEmail(local: string, domain: string): string {
  return `${local[0]}${DOT.repeat(3)}${domain}`;
}

function maskPhone(phone: string): string {
  const plus = phone.startsWith("+") ? "+" : "";
  const digits = phone.slice(plus.length);
  if (digits.length <= 7) return plus + DOT.repeat(Math.max(digits.length - 2, 0)) + digits.slice(-2);
  const head = digits.slice(0, 4);
  const tail = digits.slice(-3);
  return plus + head + DOT.repeat(digits.length - 7) + tail;
}

/** A push token or another opaque address: its first and last four characters. */
function maskOpaque(value: string): string {
  if (value.length <= 8) return DOT.repeat(value.length);
  return `${value.slice(0, 4)}${DOT.repeat(3)}${value.slice(-4)}`;
}
