import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { PreferencesScreen } from "../screens/Preferences";
import { parseVariables, Templates } from "../screens/Templates";
import { stubFetch } from "./fetchStub";

describe("templates", () => {
  it("reads variables, a trailing ? marking an optional one", () => {
    expect(parseVariables("order_id, first_name? ,")).toEqual([
      { name: "order_id", required: true },
      { name: "first_name", required: false },
    ]);
  });

  it("creates a template and shows the server's validation message", async () => {
    let created = false;
    const calls = stubFetch({
      "GET /api/v1/templates": () => ({ status: 200, body: { data: [], next_cursor: null } }),
      "POST /api/v1/templates": () => {
        if (created) return { status: 201, body: {} };
        created = true;
        return {
          status: 422,
          body: { error: { code: "VALIDATION_ERROR", message: "body: placeholder {name} is not a declared variable" } },
        };
      },
    });
    render(<Templates />);
    expect(await screen.findByText("No templates yet.")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "New template" }));
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "welcome" } });
    fireEvent.change(screen.getByLabelText("Body"), { target: { value: "Hi {name}" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    expect((await screen.findByRole("alert")).textContent).toContain("not a declared variable");
    fireEvent.change(screen.getByLabelText("Variables"), { target: { value: "name" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    await waitFor(() => expect(screen.queryByRole("button", { name: "Create" })).toBeNull());
    expect(calls.filter((c) => c.method === "POST").at(-1)?.body).toEqual({
      name: "welcome",
      type: "sms",
      body: "Hi {name}",
      variables: [{ name: "name", required: true }],
      transactional: false,
    });
  });
});

describe("preferences", () => {
  it("looks a user up and stores the edited preferences", async () => {
    const calls = stubFetch({
      "GET /api/v1/preferences/user/u-1": () => ({
        status: 200,
        body: {
          user_id: "u-1",
          channels: { sms: true, whatsapp: true, email: true, push: true },
          opted_out_categories: [],
          quiet_hours: null,
          updated_at: null,
        },
      }),
      "PUT /api/v1/preferences/user/u-1": (call) => ({
        status: 200,
        body: { user_id: "u-1", updated_at: "2026-12-05T10:00:00Z", ...(call.body as object) },
      }),
    });
    render(<PreferencesScreen />);
    fireEvent.change(screen.getByLabelText("User id"), { target: { value: "u-1" } });
    fireEvent.click(screen.getByRole("button", { name: "Look up" }));
    expect(await screen.findByText("Never set: the defaults apply.")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("email"));
    fireEvent.change(screen.getByLabelText("Opted-out categories"), { target: { value: "marketing, digest" } });
    fireEvent.click(screen.getByLabelText("Hold back non-transactional messages"));
    fireEvent.click(screen.getByRole("button", { name: "Save preferences" }));
    expect(await screen.findByText("Saved.")).toBeTruthy();
    expect(calls.find((c) => c.method === "PUT")?.body).toEqual({
      channels: { sms: true, whatsapp: true, email: false, push: true },
      opted_out_categories: ["marketing", "digest"],
      quiet_hours: { start: "22:00", end: "07:00" },
    });
  });
});
