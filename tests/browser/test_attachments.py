"""The composer's choices in Chromium: pick a model, set instructions, drop an image on the
composer; the turn runs with them and the image shows on the user's message and in the admin."""

from __future__ import annotations

import base64

import pytest

from tests.browser.served import new_page, send, stored_turn, turn_selector, wait_done
from tests.served_app import ServedApp

pytestmark = pytest.mark.browser

ROOT_PASSWORD = "pw-root-attach-1"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
DROP = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: "image/png" }));
  const form = document.querySelector("#composer");
  form.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
  form.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
}"""


def test_a_model_instructions_and_a_dropped_image_reach_the_turn(browser, served_app: ServedApp):
    served_app.create_superuser(
        "root",
        ROOT_PASSWORD,
        then="from streaming.models import Preset; "
        "Preset.objects.create(name='Pirate', model='sim-reasoning', instructions='Arr.')",
    )
    app = served_app.start()
    page = new_page(browser, app)
    page.wait_for_selector(".model-picker:not([hidden])")
    page.wait_for_selector(".preset-picker:not([hidden])")
    page.select_option("#preset-select", label="Pirate")
    assert page.input_value("#instructions-input") == "Arr."
    assert page.input_value("#model-select") == "sim-reasoning"
    page.select_option("#model-select", "sim-markdown")
    page.select_option("#model-select", "sim-reasoning")
    page.wait_for_selector(".effort-picker:not([hidden])")
    page.select_option("#effort-select", "low")
    page.click(".composer-options summary")
    page.fill("#instructions-input", "Answer in French.")
    page.evaluate(DROP, [PNG_B64, "dot.png"])
    page.wait_for_selector("#attachment-list .attachment img.attachment-thumb")
    turn_id = send(page, "Hello [sim:markdown tps=0 deltas=5 seed=2]")
    assert wait_done(page, turn_id) == "completed"
    shown = page.locator(f"{turn_selector(turn_id)} .turn-user .attachment img")
    assert shown.get_attribute("alt") == "dot.png"
    assert page.locator("#attachment-list .attachment").count() == 0
    loaded = page.evaluate(
        "src => fetch(src).then(r => r.arrayBuffer()).then(b => b.byteLength)",
        shown.get_attribute("src"),
    )
    assert loaded == len(base64.b64decode(PNG_B64))

    turn = stored_turn(page, turn_id)
    assert turn["model"] == "sim-reasoning"
    assert turn["instructions"] == "Answer in French."
    assert turn["reasoning_effort"] == "low"
    assert [a["name"] for a in turn["attachments"]] == ["dot.png"]

    page.wait_for_selector("#conversation-list .conv-preset")
    assert page.inner_text("#conversation-list .conv-preset") == "Pirate"
    page.reload()
    page.wait_for_selector(f"{turn_selector(turn_id)} .turn-user .attachment img")
    assert page.input_value("#instructions-input") == "Answer in French."
    assert page.errors == []

    admin = browser.new_context().new_page()
    admin.goto(f"{app.url}/admin/login/")
    admin.fill("#id_username", "root")
    admin.fill("#id_password", ROOT_PASSWORD)
    admin.click("input[type=submit]")
    admin.wait_for_url(f"{app.url}/admin/")
    admin.goto(f"{app.url}/admin/streaming/turn/{turn_id}/change/")
    assert "dot.png" in admin.inner_text(".field-attachment_links")
    assert "Answer in French." in admin.inner_text(".field-instructions")

    admin.goto(f"{app.url}/admin/streaming/conversation/{turn['conversation']}/change/")
    admin.wait_for_selector("#conversation-review[data-ready=true]")
    image = admin.locator(".review-turn .turn-user .attachment img")
    image.wait_for()
    assert image.get_attribute("alt") == "dot.png"
    assert admin.evaluate("img => img.complete && img.naturalWidth", image.element_handle()) == 1
    link = admin.locator(".review-turn .turn-user .attachment a")
    assert link.get_attribute("href") == f"/api/files/{turn['attachments'][0]['id']}"

    # Edited in place, the message keeps its image: the new version shows it and has it.
    user = page.locator(turn_selector(turn_id))
    user.locator("button.edit-message").click()
    page.fill(f"{turn_selector(turn_id)} textarea.edit-input", "Bonjour [sim:markdown tps=0]")
    user.locator("button.edit-save").click()
    page.wait_for_function(
        "old => { const all = document.querySelectorAll('article.turn[data-turn-id]');"
        " return all.length && all[all.length - 1].dataset.turnId !== old; }",
        arg=turn_id,
    )
    edited = page.locator("article.turn[data-turn-id]").last.get_attribute("data-turn-id")
    assert wait_done(page, edited) == "completed"
    kept = page.locator(f"{turn_selector(edited)} .turn-user .attachment img")
    assert kept.get_attribute("alt") == "dot.png"
    assert [a["id"] for a in stored_turn(page, edited)["attachments"]] == [
        a["id"] for a in turn["attachments"]
    ]
    assert page.errors == []
