// The token is sent once; the gateway answers with an HttpOnly cookie the page then uses.
document.getElementById('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const token = document.getElementById('token').value;
  const res = await fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (res.ok) location.replace('/');
  else document.getElementById('error').textContent = 'Wrong token.';
});
