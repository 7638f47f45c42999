import { describe, expect, it } from "vitest";
import { smsLength } from "./sms";

// The cases of herald-domain's sms_encoding.rs tests: the counter must agree with herald.
describe("smsLength", () => {
  it("counts plain GSM-7 text in 160-unit singles and 153-unit segments", () => {
    expect(smsLength("Hello")).toMatchObject({ encoding: "GSM-7", characters: 5, units: 5, segments: 1 });
    expect(smsLength("a".repeat(160)).segments).toBe(1);
    expect(smsLength("a".repeat(161)).segments).toBe(2);
    expect(smsLength("a".repeat(306)).segments).toBe(2);
    expect(smsLength("a".repeat(307)).segments).toBe(3);
    expect(smsLength("").segments).toBe(0);
  });

  it("counts an extension-table character as two units", () => {
    expect(smsLength("€5")).toMatchObject({ encoding: "GSM-7", characters: 2, units: 3 });
    expect(smsLength("{x}").units).toBe(5);
  });

  it("switches to UCS-2 for a character outside GSM-7, counting UTF-16 units", () => {
    expect(smsLength("Habari 👋")).toMatchObject({ encoding: "UCS-2", characters: 8, units: 9 });
    expect(smsLength("ü€ж".repeat(24)).segments).toBe(2);
    expect(smsLength("а".repeat(70)).segments).toBe(1);
    expect(smsLength("а".repeat(71)).segments).toBe(2);
    expect(smsLength("а".repeat(134)).segments).toBe(2);
    expect(smsLength("а".repeat(135)).segments).toBe(3);
  });

  it("never splits an escaped character or a surrogate pair across segments", () => {
    const escaped = `${"a".repeat(152)}€${"a".repeat(152)}`;
    expect(smsLength(escaped)).toMatchObject({ units: 306, segments: 3 });
    const emoji = `${"ж".repeat(66)}👋${"ж".repeat(66)}`;
    expect(smsLength(emoji)).toMatchObject({ units: 134, segments: 3 });
  });

  it("reports the room per segment for the counter", () => {
    expect(smsLength("hi").perSegment).toBe(160);
    expect(smsLength("a".repeat(200)).perSegment).toBe(153);
    expect(smsLength("ж").perSegment).toBe(70);
  });
});
