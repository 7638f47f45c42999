import { act, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { Overview } from "../screens/Overview";
import { OVERVIEW, stubFetch } from "./fetchStub";

describe("overview", () => {
  it("shows the counts, rates, queue, dead letters and breaker states", async () => {
    stubFetch({ "GET /api/v1/overview": () => ({ status: 200, body: OVERVIEW }) });
    render(<Overview />);
    expect((await screen.findByTestId("stat-accepted")).textContent).toBe("120");
    expect(screen.getByTestId("stat-sent").textContent).toBe("110");
    expect(screen.getByTestId("stat-failed").textContent).toBe("3");
    expect(screen.getByTestId("stat-queue-depth").textContent).toBe("7");
    expect(screen.getByTestId("stat-oldest-waiting").textContent).toBe("2 s");
    expect(screen.getByTestId("stat-dead-letters").textContent).toBe("2");
    expect(screen.getByText("24 / min")).toBeTruthy();
    expect(screen.getByText("breaker half open")).toBeTruthy();
    expect(screen.getByText(/Updated \d+ s ago/)).toBeTruthy();
  });

  it("polls every 2 s, backs off by doubling after errors and recovers", async () => {
    vi.useFakeTimers();
    let failing = true;
    const calls = stubFetch({
      "GET /api/v1/overview": () =>
        failing
          ? { status: 503, body: { error: { code: "UNAVAILABLE", message: "database down" } } }
          : { status: 200, body: OVERVIEW },
    });
    render(<Overview />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(calls).toHaveLength(1);
    expect(screen.getByRole("alert").textContent).toContain("database down");
    // First error: 4 s instead of 2.
    await act(() => vi.advanceTimersByTimeAsync(3999));
    expect(calls).toHaveLength(1);
    await act(() => vi.advanceTimersByTimeAsync(1));
    expect(calls).toHaveLength(2);
    // Second error: 8 s.
    await act(() => vi.advanceTimersByTimeAsync(7999));
    expect(calls).toHaveLength(2);
    failing = false;
    await act(() => vi.advanceTimersByTimeAsync(1));
    expect(calls).toHaveLength(3);
    expect(screen.getByTestId("stat-accepted").textContent).toBe("120");
    // Success: back to every 2 s.
    await act(() => vi.advanceTimersByTimeAsync(2000));
    expect(calls).toHaveLength(4);
  });

  it("does not poll while the tab is hidden, and refreshes when it shows again", async () => {
    vi.useFakeTimers();
    const calls = stubFetch({ "GET /api/v1/overview": () => ({ status: 200, body: OVERVIEW }) });
    render(<Overview />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(calls).toHaveLength(1);
    const hidden = vi.spyOn(document, "hidden", "get").mockReturnValue(true);
    await act(async () => {
      document.dispatchEvent(new Event("visibilitychange"));
      await vi.advanceTimersByTimeAsync(10_000);
    });
    expect(calls).toHaveLength(1);
    hidden.mockReturnValue(false);
    await act(async () => {
      document.dispatchEvent(new Event("visibilitychange"));
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(calls).toHaveLength(2);
  });
});
