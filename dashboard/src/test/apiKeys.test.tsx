import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiKeys } from "../screens/ApiKeys";
import { SESSION, stubFetch } from "./fetchStub";

const key = (id: string, name: string, revoked_at: string | null = null) => ({
  id,
  name,
  prefix: `hrld_${id}`,
  created_at: "2026-12-05T09:00:00Z",
  revoked_at,
  rate_limit_per_second: null,
});

describe("API keys", () => {
  it("shows a created key's secret once, with a warning, then never again", async () => {
    const keys = [key("key-1", "bootstrap")];
    const calls = stubFetch({
      "GET /api/v1/api-keys": () => ({ status: 200, body: { data: keys } }),
      "POST /api/v1/api-keys": (call) => {
        const created = key("key-2", (call.body as { name: string }).name);
        keys.unshift(created);
        return { status: 201, body: { ...created, key: "hrld_secret_shown_once" } };
      },
    });
    render(<ApiKeys session={SESSION} />);
    fireEvent.change(await screen.findByLabelText("New key's name"), { target: { value: "ci" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect((await screen.findByTestId("new-key-secret")).textContent).toBe("hrld_secret_shown_once");
    expect(screen.getByText(/shown only this once/)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Copy" })).toBeTruthy();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ name: "ci" });

    fireEvent.click(screen.getByRole("button", { name: "I have stored it" }));
    expect(screen.queryByTestId("new-key-secret")).toBeNull();
    expect(document.body.textContent).not.toContain("hrld_secret_shown_once");
  });

  it("marks the session's own key and offers no revoke for it", async () => {
    stubFetch({
      "GET /api/v1/api-keys": () => ({
        status: 200,
        body: { data: [key("key-2", "ci"), key("key-1", "bootstrap"), key("key-0", "old", "2026-12-01T00:00:00Z")] },
      }),
    });
    render(<ApiKeys session={SESSION} />);
    const rows = await screen.findAllByTestId("api-key-row");
    expect(within(rows[0]).getByRole("button", { name: "Revoke" })).toBeTruthy();
    expect(within(rows[1]).getByText("this session")).toBeTruthy();
    expect(within(rows[1]).queryByRole("button", { name: "Revoke" })).toBeNull();
    expect(within(rows[2]).queryByRole("button", { name: "Revoke" })).toBeNull();
  });
});
