import { act, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { CampaignDetailScreen } from "../screens/CampaignDetail";
import { stubFetch } from "./fetchStub";

const detail = (stats: { pending: number; sending: number; sent: number; failed: number }, status: string) => ({
  id: 7,
  name: "Launch",
  channel: "sms",
  status,
  base_template: "Hi {first_name}",
  scheduled_at: null,
  created_at: "2026-12-05T09:00:00Z",
  updated_at: "2026-12-05T09:00:00Z",
  stats: { total: 4, ...stats },
});

describe("campaign detail", () => {
  it("polls the stats while the campaign sends and stops once every message is settled", async () => {
    vi.useFakeTimers();
    const answers = [
      detail({ pending: 3, sending: 1, sent: 0, failed: 0 }, "sending"),
      detail({ pending: 1, sending: 1, sent: 2, failed: 0 }, "sending"),
      detail({ pending: 0, sending: 0, sent: 3, failed: 1 }, "sent"),
    ];
    const calls = stubFetch({
      "GET /campaigns/7": () => ({ status: 200, body: answers[Math.min(calls.length - 1, 2)] }),
    });
    render(<CampaignDetailScreen id="7" />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(screen.getByTestId("campaign-pending").textContent).toBe("3");
    await act(() => vi.advanceTimersByTimeAsync(1500));
    expect(screen.getByTestId("campaign-sent").textContent).toBe("2");
    await act(() => vi.advanceTimersByTimeAsync(1500));
    expect(screen.getByTestId("campaign-sent").textContent).toBe("3");
    expect(screen.getByTestId("campaign-failed").textContent).toBe("1");
    const settledAt = calls.length;
    await act(() => vi.advanceTimersByTimeAsync(10_000));
    // One last read as polling stops, then none.
    expect(calls.length).toBeLessThanOrEqual(settledAt + 1);
    expect(screen.getByRole("img").getAttribute("aria-label")).toBe("0 pending, 0 sending, 3 sent, 1 failed");
  });

  it("shows the server's error for an unknown campaign and stops asking", async () => {
    vi.useFakeTimers();
    const calls = stubFetch({
      "GET /campaigns/99": () => ({
        status: 404,
        body: { error: { code: "CAMPAIGN_NOT_FOUND", message: "no campaign 99" } },
      }),
    });
    render(<CampaignDetailScreen id="99" />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(screen.getByRole("alert").textContent).toBe("no campaign 99");
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(calls.length).toBeLessThanOrEqual(2);
    expect(screen.queryByTestId("campaign-total")).toBeNull();
  });
});
