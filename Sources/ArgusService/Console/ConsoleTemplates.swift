/// The console's pages (swift-mustache; `{{x}}` is HTML-escaped, `{{{body}}}` only ever holds a
/// page this library rendered). No scripts: the CSP allows none.
enum ConsoleTemplates {
    static let all: [String: String] = [
        "layout": layout, "signup": signup, "login": login, "message": message, "keys": keys, "sessions": sessions,
        "subjects": subjects, "audit": audit, "team": team, "invite": invite, "password": password,
    ]

    static let layout = """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>{{title}} · Argus console</title>
    <style>
    body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
    header{display:flex;gap:1.2em;align-items:center;padding:.6em 1.2em;background:#1d2330;color:#fff}
    header a{color:#cfd8ea;text-decoration:none}header a.on{color:#fff;font-weight:600}
    .mode{padding:.15em .6em;border-radius:1em;font-weight:700;font-size:12px}
    .mode-test{background:#ffd766;color:#3b2f00}.mode-live{background:#2fbf71;color:#00210f}
    main{padding:1.2em;max-width:1100px}table{border-collapse:collapse;width:100%;background:#fff}
    td,th{border-bottom:1px solid #e3e6ec;padding:.4em .5em;text-align:left;vertical-align:top}
    form.inline{display:inline}.secret{font:13px monospace;background:#fff7d6;border:1px solid #e9cf69;padding:.6em;display:block;word-break:break-all}
    .box{background:#fff;padding:1em;border:1px solid #e3e6ec;margin-bottom:1em}.error{color:#a11}
    input,select,button{font:inherit}button{cursor:pointer}
    </style></head>
    <body>
    {{#user}}<header>
    <strong>Argus</strong><span>{{tenantName}}</span>
    <span id="mode" class="mode mode-{{mode}}">{{modeLabel}}</span>
    <form class="inline" method="post" action="/console/mode"><input type="hidden" name="csrf" value="{{csrf}}">
    <input type="hidden" name="mode" value="{{otherMode}}"><button type="submit" id="switch-mode">switch to {{otherMode}}</button></form>
    {{#canKeys}}<a href="/console/keys" class="{{navKeys}}">API keys</a>{{/canKeys}}
    <a href="/console/sessions" class="{{navSessions}}">Sessions</a><a href="/console/subjects" class="{{navSubjects}}">Subjects</a>
    <a href="/console/audit" class="{{navAudit}}">Audit log</a>{{#isOwner}}<a href="/console/team" class="{{navTeam}}">Team</a>{{/isOwner}}
    <a href="/console/password">Password</a>
    <span style="margin-left:auto">{{email}} ({{role}})</span>
    <form class="inline" method="post" action="/console/logout"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Log out</button></form>
    </header>{{/user}}
    <main>{{{body}}}</main></body></html>
    """

    static let signup = """
    <h1>Sign up</h1>
    {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
    <form method="post" action="/console/signup" class="box">
    <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="invite" value="{{invite}}">
    <p><label>Organisation <input name="tenant_name" required maxlength="200"></label></p>
    <p><label>E-mail <input name="email" type="email" required maxlength="254"></label></p>
    <p><label>Password <input name="password" type="password" required minlength="10" maxlength="256"></label></p>
    <button type="submit">Create account</button></form>
    <p><a href="/console/login">Log in instead</a></p>
    """

    static let login = """
    <h1>Log in</h1>
    {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
    <form method="post" action="/console/login" class="box"><input type="hidden" name="csrf" value="{{csrf}}">
    <p><label>E-mail <input name="email" type="email" required maxlength="254"></label></p>
    <p><label>Password <input name="password" type="password" required maxlength="256"></label></p>
    <button type="submit">Log in</button></form>
    """

    static let message = """
    <h1>{{heading}}</h1><p id="message">{{text}}</p><p><a href="/console">Back</a></p>
    """

    static let keys = """
    <h1>API keys <small>({{modeLabel}})</small></h1>
    {{#newSecret}}<div class="box"><p>Your new {{newKind}} — copy it now, it is shown only this once:</p>
    {{#newClientKey}}<p>x-client-key: <code id="new-client-key">{{newClientKey}}</code></p>{{/newClientKey}}
    <code class="secret" id="new-secret">{{newSecret}}</code></div>{{/newSecret}}
    {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
    <form method="post" action="/console/keys" class="box" id="create-key"><input type="hidden" name="csrf" value="{{csrf}}">
    <label>Name <input name="name" maxlength="200"></label>
    <label>Kind <select name="kind"><option value="secret">secret key</option><option value="restricted">restricted key</option>
    <option value="client">client key + secret</option></select></label>
    <span>Scopes (restricted and client):{{#scopes}} <label><input type="checkbox" name="scopes" value="{{.}}"> {{.}}</label>{{/scopes}}</span>
    <button type="submit">Create</button></form>
    <table><tr><th>Name</th><th>Kind</th><th>Key</th><th>Scopes</th><th>Created</th><th>Last used</th><th>Expires</th><th>Status</th><th></th></tr>
    {{#keys}}<tr data-key-id="{{id}}"><td>{{name}}</td><td>{{kind}}</td><td><code>{{prefix}}…{{last4}}</code></td><td>{{scopes}}</td>
    <td>{{created}}</td><td>{{lastUsed}}</td><td>{{expires}}</td><td>{{status}}</td>
    <td>{{#live}}<form class="inline roll" method="post" action="/console/keys/{{id}}/roll"><input type="hidden" name="csrf" value="{{csrf}}">
    <label>old key works for <input name="expires_in" type="number" min="0" max="2592000" value="0" size="8"> s</label>
    <button type="submit" class="roll-button">Roll</button></form>
    <form class="inline revoke" method="post" action="/console/keys/{{id}}/revoke"><input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit" class="revoke-button">Revoke</button></form>{{/live}}</td></tr>{{/keys}}
    </table>
    """

    static let sessions = """
    <h1>Sessions <small>({{modeLabel}})</small></h1>
    <table><tr><th>Session</th><th>Purpose</th><th>Subject</th><th>Customer ref</th><th>Status</th><th>Attempts</th><th>Expires</th><th></th></tr>
    {{#sessions}}<tr data-session-id="{{id}}"><td><code>{{id}}</code></td><td>{{purpose}}</td><td>{{subject}}</td><td>{{customerRef}}</td>
    <td>{{status}}</td><td>{{attempts}} / {{maxAttempts}}</td><td>{{expires}}</td>
    <td>{{#revocable}}<form class="inline" method="post" action="/console/sessions/{{id}}/revoke"><input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit">Revoke</button></form>{{/revocable}}</td></tr>{{/sessions}}
    </table>
    """

    static let subjects = """
    <h1>Subjects <small>({{modeLabel}})</small></h1>
    <form method="get" action="/console/subjects" class="box"><label>External id <input name="external_id" value="{{query}}"></label>
    <button type="submit">Search</button></form>
    <table><tr><th>Subject</th><th>External id</th><th>Faces</th><th>Key custody</th><th>Created</th><th></th></tr>
    {{#subjects}}<tr data-subject-id="{{id}}"><td><code>{{id}}</code></td><td class="external-id">{{externalID}}</td><td>{{faces}}</td>
    <td>{{custody}}</td><td>{{created}}</td>
    <td>{{#canWrite}}<form class="inline" method="post" action="/console/subjects/{{id}}/delete"><input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit">Delete</button></form>{{/canWrite}}</td></tr>{{/subjects}}
    </table>
    """

    static let audit = """
    <h1>Audit log</h1>
    <form method="get" action="/console/audit" class="box">
    <label>Operation <input name="operation" value="{{operation}}" placeholder="keys.roll"></label>
    <label>Credential <input name="credential" value="{{credential}}" placeholder="key_…"></label>
    <label>From <input name="from" type="date" value="{{from}}"></label><label>Until <input name="until" type="date" value="{{until}}"></label>
    <button type="submit">Filter</button></form>
    <table><tr><th>Time</th><th>Operation</th><th>Credential</th><th>Subject</th><th>Object</th><th>Outcome</th></tr>
    {{#rows}}<tr><td>{{at}}</td><td>{{operation}}</td><td><code>{{credential}}</code></td><td>{{subject}}</td><td>{{target}}</td><td>{{outcome}}</td></tr>{{/rows}}
    </table>
    """

    static let team = """
    <h1>Team</h1>
    {{#inviteLink}}<div class="box"><p>Invitation link (valid 7 days, one use):</p><code class="secret" id="invite-link">{{inviteLink}}</code></div>{{/inviteLink}}
    <form method="post" action="/console/team/invite" class="box"><input type="hidden" name="csrf" value="{{csrf}}">
    <label>Role <select name="role"><option value="developer">developer</option><option value="viewer">viewer</option>
    <option value="owner">owner</option></select></label><button type="submit">Invite</button></form>
    <table><tr><th>E-mail</th><th>Role</th><th>Since</th></tr>{{#users}}<tr><td>{{email}}</td><td>{{role}}</td><td>{{created}}</td></tr>{{/users}}</table>
    """

    static let invite = """
    <h1>Join {{tenantName}}</h1><p>You are invited as {{role}}.</p>
    {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
    <form method="post" action="/console/invite/{{token}}" class="box"><input type="hidden" name="csrf" value="{{csrf}}">
    <p><label>E-mail <input name="email" type="email" required maxlength="254"></label></p>
    <p><label>Password <input name="password" type="password" required minlength="10" maxlength="256"></label></p>
    <button type="submit">Join</button></form>
    """

    static let password = """
    <h1>Change password</h1>
    {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}
    <form method="post" action="/console/password" class="box"><input type="hidden" name="csrf" value="{{csrf}}">
    <p><label>Current <input name="current" type="password" required></label></p>
    <p><label>New <input name="new" type="password" required minlength="10" maxlength="256"></label></p>
    <button type="submit">Change</button></form>
    """
}
