// SMS length as networks count it, mirroring herald-domain's `sms_encoding.rs` so the
// counter under the template field agrees with what herald reports and bills.
// GSM 03.38 7-bit when every character is in the basic alphabet or its extension table
// (extension characters take an escape and count two); UCS-2 (UTF-16 units) otherwise.
// A segment never splits an escaped character or a surrogate pair.

const GSM7_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED = "\u000c^{}\\[~]|€";

const GSM7_SINGLE = 160;
const GSM7_SEGMENT = 153;
const UCS2_SINGLE = 70;
const UCS2_SEGMENT = 67;

export type SmsEncoding = "GSM-7" | "UCS-2";

export interface SmsLength {
  /** Characters as a person counts them (code points). */
  characters: number;
  encoding: SmsEncoding;
  /** 7-bit units for GSM-7, UTF-16 units for UCS-2. */
  units: number;
  /** Parts the message is sent in: what the sender pays for. */
  segments: number;
  /** Units a single part holds, and each part of a concatenated message. */
  perSegment: number;
}

export function gsm7Units(char: string): number | null {
  if (GSM7_BASIC.includes(char)) return 1;
  if (GSM7_EXTENDED.includes(char)) return 2;
  return null;
}

function countSegments(sizes: number[], single: number, segment: number): number {
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (total === 0) return 0;
  if (total <= single) return 1;
  let parts = 1;
  let used = 0;
  for (const size of sizes) {
    if (used + size > segment) {
      parts += 1;
      used = 0;
    }
    used += size;
  }
  return parts;
}

function measure(
  characters: number,
  encoding: SmsEncoding,
  sizes: number[],
  single: number,
  segment: number,
): SmsLength {
  const segments = countSegments(sizes, single, segment);
  return {
    characters,
    encoding,
    units: sizes.reduce((a, b) => a + b, 0),
    segments,
    perSegment: segments > 1 ? segment : single,
  };
}

export function smsLength(text: string): SmsLength {
  const chars = Array.from(text);
  const gsm = chars.map(gsm7Units);
  if (gsm.every((units) => units !== null)) {
    return measure(chars.length, "GSM-7", gsm as number[], GSM7_SINGLE, GSM7_SEGMENT);
  }
  return measure(
    chars.length,
    "UCS-2",
    chars.map((c) => c.length),
    UCS2_SINGLE,
    UCS2_SEGMENT,
  );
}
