import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { Campaigns } from "../screens/Campaigns";
import { stubFetch } from "./fetchStub";

const page = (data: unknown[]) => ({
  data,
  pagination: { page: 1, page_size: 20, total_count: data.length, total_pages: 1, snapshot: 9, next: null, prev: null },
});

describe("campaign list", () => {
  it("lists campaigns with status badges and filters by status and channel", async () => {
    const calls = stubFetch({
      "GET /campaigns": (call) =>
        call.url.includes("status=failed")
          ? { status: 200, body: page([]) }
          : {
              status: 200,
              body: page([
                {
                  id: 9,
                  name: "Spring sale",
                  channel: "sms",
                  status: "sent",
                  scheduled_at: null,
                  created_at: "2026-12-05T09:00:00Z",
                },
              ]),
            },
    });
    render(<Campaigns />);
    expect(await screen.findByRole("link", { name: "Spring sale" })).toBeTruthy();
    expect(screen.getByText("sent", { selector: ".badge" }).className).toContain("badge-good");
    expect(calls[0].url).toBe("/campaigns?page=1&page_size=20");

    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "failed" } });
    expect(await screen.findByText("No campaign matches these filters.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Channel"), { target: { value: "whatsapp" } });
    await waitFor(() =>
      expect(calls.at(-1)?.url).toBe("/campaigns?page=1&page_size=20&status=failed&channel=whatsapp"),
    );
  });

  it("pages within one snapshot", async () => {
    const calls = stubFetch({
      "GET /campaigns": (call) => ({
        status: 200,
        body: {
          data: [
            {
              id: call.url.includes("page=2") ? 1 : 2,
              name: call.url.includes("page=2") ? "Older" : "Newer",
              channel: "sms",
              status: "draft",
              scheduled_at: null,
              created_at: "2026-12-05T09:00:00Z",
            },
          ],
          pagination: {
            page: call.url.includes("page=2") ? 2 : 1,
            page_size: 20,
            total_count: 21,
            total_pages: 2,
            snapshot: 9,
            next: call.url.includes("page=2") ? null : "/campaigns?page=2",
            prev: null,
          },
        },
      }),
    });
    render(<Campaigns />);
    expect(await screen.findByText("Page 1 of 2 (21 campaigns)")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(await screen.findByRole("link", { name: "Older" })).toBeTruthy();
    expect(calls.at(-1)?.url).toBe("/campaigns?page=2&page_size=20&snapshot=9");
    expect((screen.getByRole("button", { name: "Next" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("refreshes the page while a campaign on it sends, and stops when none does", async () => {
    vi.useFakeTimers();
    const calls = stubFetch({
      "GET /campaigns": () => ({
        status: 200,
        body: page([
          {
            id: 9,
            name: "Spring sale",
            channel: "sms",
            status: calls.length < 3 ? "sending" : "sent",
            scheduled_at: null,
            created_at: "2026-12-05T09:00:00Z",
          },
        ]),
      }),
    });
    render(<Campaigns />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(screen.getByText("sending", { selector: ".badge" })).toBeTruthy();
    await act(() => vi.advanceTimersByTimeAsync(6000));
    expect(screen.getByText("sent", { selector: ".badge" })).toBeTruthy();
    const settled = calls.length;
    await act(() => vi.advanceTimersByTimeAsync(30_000));
    expect(calls.length).toBeLessThanOrEqual(settled + 1);
  });

  it("shows the server's error message", async () => {
    stubFetch({
      "GET /campaigns": () => ({
        status: 400,
        body: { error: { code: "BAD_REQUEST", message: "page_size must be an integer" } },
      }),
    });
    render(<Campaigns />);
    expect((await screen.findByRole("alert")).textContent).toBe("page_size must be an integer");
  });
});
