// The API reference page: try a read with the key typed on the page (kept in this page only).
document.addEventListener("click", async (event) => {
  const button = event.target.closest(".api-try");
  if (!button) return;
  const answer = button.nextElementSibling;
  const key = document.getElementById("api-key").value.trim();
  answer.hidden = false;
  answer.textContent = "Lecture…";
  try {
    const response = await fetch(button.dataset.url, { headers: { Authorization: `Bearer ${key}` } });
    const body = await response.json();
    answer.textContent = `${response.status}\n${JSON.stringify(body, null, 2)}`;
  } catch (error) {
    answer.textContent = "Le serveur n'a pas répondu.";
  }
});
