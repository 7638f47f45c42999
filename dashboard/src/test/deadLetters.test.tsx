import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { DeadLetters } from "../screens/DeadLetters";
import { stubFetch } from "./fetchStub";

const letter = (id: string) => ({
  id,
  channel: "sms",
  to: "+254712345678",
  from: "MB",
  last_error: "mock provider: simulated failure",
  retry_count: 0,
  provider: "mock",
  created_at: "2026-12-05T09:00:00Z",
  failed_at: "2026-12-05T09:00:01Z",
});
const A = "0192f7c4-5d1e-7a3b-9c2d-4e5f6a7b8c9a";
const B = "0192f7c4-5d1e-7a3b-9c2d-4e5f6a7b8c9b";

describe("dead letters", () => {
  it("replays one only after confirmation; Escape cancels and returns focus", async () => {
    const calls = stubFetch({
      "GET /api/v1/dead-letters": () => ({ status: 200, body: { data: [letter(A), letter(B)], next_cursor: null } }),
      [`POST /api/v1/dead-letters/${A}/replay`]: () => ({ status: 202, body: { id: A, status: "pending" } }),
    });
    render(<DeadLetters />);
    const rows = await screen.findAllByTestId("dead-letter");
    expect(within(rows[0]).getByText("+2547•••••678")).toBeTruthy();
    const replay = within(rows[0]).getByRole("button", { name: "Replay" });
    replay.focus();
    fireEvent.click(replay);
    const dialog = screen.getByRole("dialog");
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(document.activeElement?.textContent).toBe("Cancel");
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(replay);
    expect(calls.some((c) => c.method === "POST")).toBe(false);

    fireEvent.click(replay);
    fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Replay" }));
    await waitFor(() => expect(screen.getAllByTestId("dead-letter")).toHaveLength(1));
    expect(calls.filter((c) => c.method === "POST").map((c) => c.url)).toEqual([`/api/v1/dead-letters/${A}/replay`]);
    expect(screen.getByRole("status").textContent).toContain("pending again");
  });

  it("replays a selection with the ids in the body", async () => {
    const calls = stubFetch({
      "GET /api/v1/dead-letters": () => ({ status: 200, body: { data: [letter(A), letter(B)], next_cursor: null } }),
      "POST /api/v1/dead-letters/replay": () => ({ status: 202, body: { replayed: 2, ids: [A, B] } }),
    });
    render(<DeadLetters />);
    await screen.findAllByTestId("dead-letter");
    fireEvent.click(screen.getByLabelText("Select all shown"));
    fireEvent.click(screen.getByRole("button", { name: "Replay selected (2)" }));
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).getByRole("heading").textContent).toBe("Replay 2 messages?");
    fireEvent.click(within(dialog).getByRole("button", { name: "Replay" }));
    await waitFor(() => expect(screen.queryAllByTestId("dead-letter")).toHaveLength(0));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ ids: [A, B] });
  });

  it("keeps focus inside the dialog when tabbing", async () => {
    stubFetch({ "GET /api/v1/dead-letters": () => ({ status: 200, body: { data: [letter(A)], next_cursor: null } }) });
    render(<DeadLetters />);
    fireEvent.click(within((await screen.findAllByTestId("dead-letter"))[0]).getByRole("button", { name: "Replay" }));
    const dialog = screen.getByRole("dialog");
    const [cancel, confirm] = within(dialog).getAllByRole("button");
    confirm.focus();
    fireEvent.keyDown(dialog, { key: "Tab" });
    expect(document.activeElement).toBe(cancel);
    fireEvent.keyDown(dialog, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(confirm);
  });

  it("loads the next page after the cursor on request", async () => {
    const calls = stubFetch({
      "GET /api/v1/dead-letters": (call) =>
        call.url.includes("cursor=")
          ? { status: 200, body: { data: [letter(B)], next_cursor: null } }
          : { status: 200, body: { data: [letter(A)], next_cursor: A } },
    });
    render(<DeadLetters />);
    expect(await screen.findAllByTestId("dead-letter")).toHaveLength(1);
    // The cursor is taken from the first page in an effect after the rows render.
    fireEvent.click(await screen.findByRole("button", { name: "Load more" }));
    await waitFor(() => expect(screen.getAllByTestId("dead-letter")).toHaveLength(2));
    expect(calls.at(-1)?.url).toBe(`/api/v1/dead-letters?limit=100&cursor=${A}`);
    expect(screen.queryByRole("button", { name: "Load more" })).toBeNull();
  });
});
