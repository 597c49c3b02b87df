"""Reopening signed in (the OS keychain), the smallest supported window, and dark mode."""

from __future__ import annotations

import tempfile
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import App

TIMEOUT = 30


def tid(name: str) -> tuple[str, str]:
    return (By.CSS_SELECTOR, f'[data-testid="{name}"]')


def test_the_app_reopens_signed_in_and_sign_out_forgets_the_session():
    with tempfile.TemporaryDirectory(prefix="portico-reopen-") as d:
        first = App(Path(d))
        try:
            w = WebDriverWait(first.driver, TIMEOUT)
            notice = first.driver.find_elements(*tid("keychain-notice"))
            assert not notice, "under a keyutils session the OS keychain is available"
            w.until(EC.element_to_be_clickable(tid("demo-patient"))).click()
            w.until(EC.visibility_of_element_located(tid("sign-out")))
        finally:
            first.close()
        second = App(Path(d))
        try:
            w = WebDriverWait(second.driver, TIMEOUT)
            w.until(EC.visibility_of_element_located(tid("sign-out")))
            assert "Reyna Ziemann" in second.driver.find_element(By.TAG_NAME, "body").text
            second.screenshot("13-reopened-signed-in")
            w.until(EC.element_to_be_clickable(tid("sign-out"))).click()
            w.until(EC.visibility_of_element_located(tid("demo-patient")))
        finally:
            second.close()
        third = App(Path(d))
        try:
            WebDriverWait(third.driver, TIMEOUT).until(EC.visibility_of_element_located(tid("demo-patient")))
            assert not third.driver.find_elements(*tid("sign-out")), "after sign-out the app opens at sign-in"
        finally:
            third.close()


def test_dark_mode_and_the_smallest_window_keep_their_layout():
    with tempfile.TemporaryDirectory(prefix="portico-dark-") as d:
        app = App(Path(d), extra_env={"GTK_THEME": "Adwaita:dark"})
        try:
            app.driver.set_window_size(900, 600)
            w = WebDriverWait(app.driver, TIMEOUT)
            w.until(EC.visibility_of_element_located(tid("demo-patient")))
            app.screenshot("14-dark-sign-in-900x600")
            w.until(EC.element_to_be_clickable(tid("demo-patient"))).click()
            w.until(EC.element_to_be_clickable(tid("new-credential"))).click()
            w.until(EC.visibility_of_element_located((By.ID, "credential-name"))).send_keys("Watch app")
            w.until(EC.element_to_be_clickable(tid("create-credential"))).click()
            w.until(EC.visibility_of_element_located(tid("show-once")))
            app.screenshot("15-dark-show-once-900x600")
            # Nothing may stick out sideways at 900×600.
            overflow = app.driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
            assert overflow <= 0, f"the page is {overflow}px wider than the window"
            dark = app.driver.execute_script("return matchMedia('(prefers-color-scheme: dark)').matches;")
            assert dark, "GTK's dark theme reaches the page as prefers-color-scheme: dark"
        finally:
            app.close()


def test_dialogs_take_focus_and_escape_gives_it_back():
    with tempfile.TemporaryDirectory(prefix="portico-keys-") as d:
        app = App(Path(d))
        try:
            w = WebDriverWait(app.driver, TIMEOUT)
            w.until(EC.element_to_be_clickable(tid("demo-patient"))).click()
            opener = w.until(EC.element_to_be_clickable(tid("new-credential")))
            opener.click()
            w.until(EC.visibility_of_element_located((By.ID, "credential-name")))
            active = app.driver.switch_to.active_element
            assert active.get_attribute("id") == "credential-name", "focus moves into the dialog"
            active.send_keys(Keys.ESCAPE)
            w.until(EC.invisibility_of_element_located((By.ID, "credential-name")))
            back = app.driver.switch_to.active_element
            assert back.get_attribute("data-testid") == "new-credential", "focus returns to the opener"
            # Keyboard only: Enter on the focused opener opens the dialog again, and Tab stays inside it.
            back.send_keys(Keys.ENTER)
            w.until(EC.visibility_of_element_located((By.ID, "credential-name")))
            for _ in range(8):
                app.driver.switch_to.active_element.send_keys(Keys.TAB)
                inside = app.driver.execute_script("return !!document.activeElement.closest('[role=dialog]');")
                assert inside, "Tab is trapped inside the modal dialog"
        finally:
            app.close()
