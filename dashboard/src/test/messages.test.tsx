import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Messages, normalizeRecipient } from "../screens/Messages";
import { stubFetch } from "./fetchStub";

const message = {
  id: "01a245d6-0000-7000-8000-0000000004ed",
  status: "sent",
  channel: "sms",
  recipient: "+254712345678",
  user_id: null,
  campaign_id: 1,
  attempts: 1,
  last_error: null,
  created_at: "2026-12-05T09:00:00Z",
  updated_at: "2026-12-05T09:00:01Z",
};

describe("messages", () => {
  it("lists recipients masked, never in full", async () => {
    stubFetch({ "GET /api/v1/notifications": () => ({ status: 200, body: { data: [message], next_cursor: null } }) });
    render(<Messages params={new URLSearchParams()} />);
    expect(await screen.findByText("+2547•••••678")).toBeTruthy();
    expect(document.body.textContent).not.toContain("+254712345678");
  });

  it("searches by an exact recipient, status and channel", async () => {
    const calls = stubFetch({
      "GET /api/v1/notifications": () => ({ status: 200, body: { data: [], next_cursor: null } }),
    });
    render(<Messages params={new URLSearchParams("campaign_id=1")} />);
    await screen.findByText("No message matches.");
    expect(calls[0].url).toBe("/api/v1/notifications?campaign_id=1&limit=50");
    fireEvent.change(screen.getByLabelText("Recipient (exact)"), { target: { value: "+254 712 345-678" } });
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "failed" } });
    fireEvent.change(screen.getByLabelText("Channel"), { target: { value: "sms" } });
    fireEvent.click(screen.getByRole("button", { name: "Search" }));
    await waitFor(() =>
      expect(calls.at(-1)?.url).toBe(
        "/api/v1/notifications?recipient=%2B254712345678&status=failed&channel=sms&campaign_id=1&limit=50",
      ),
    );
  });

  it("opens a message by id, and says what an id looks like when it is not one", async () => {
    stubFetch({ "GET /api/v1/notifications": () => ({ status: 200, body: { data: [], next_cursor: null } }) });
    render(<Messages params={new URLSearchParams()} />);
    fireEvent.change(screen.getByLabelText("Message id"), { target: { value: "nope" } });
    fireEvent.click(screen.getByRole("button", { name: "Open" }));
    expect(screen.getByRole("alert").textContent).toContain("UUID");
    fireEvent.change(screen.getByLabelText("Message id"), { target: { value: message.id } });
    fireEvent.click(screen.getByRole("button", { name: "Open" }));
    expect(window.location.hash).toBe(`#/messages/${message.id}`);
  });

  it("normalizes a typed phone number but leaves addresses alone", () => {
    expect(normalizeRecipient(" +254 (712) 345-678 ")).toBe("+254712345678");
    expect(normalizeRecipient("a.b@example.com")).toBe("a.b@example.com");
  });
});
