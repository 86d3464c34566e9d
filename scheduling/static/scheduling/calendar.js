/* The front desk's calendar: EventCalendar drawing GET /api/v1/calendar/, every change through the
 * API's appointment, patient and course endpoints (so through the same services and messages as the
 * admin's own pages). Times are the location's wall clock; the API gets them back with the location's
 * offset. Nothing here decides a rule: a refusal comes from the server and is shown as it is worded. */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('calendar-config').textContent);
  const csrf = document.querySelector('[name=csrfmiddlewaretoken]').value;
  const message = document.getElementById('calendar-message');
  const filter = document.getElementById('resource-filter');
  const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  let resources = config.resources;
  let shownResources = '';
  let timeLimits = `${config.dayStarts}|${config.dayEnds}`;
  let popover = null;

  // ---- words and times

  function say(text, kind) {
    message.textContent = text;
    message.className = kind || '';
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  /** A calendar Date (the location's wall clock) as '2026-12-07T14:30:00'. */
  function wallOf(date) {
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
      `${pad(date.getHours())}:${pad(date.getMinutes())}:00`;
  }

  /** A calendar Date's wall-clock time as '14:30'. EventCalendar makes every card's time text even when
   * the card is our own (which shows the server's text); its default makes it with Intl's formatRange,
   * which took about a sixth of a week's scripting. */
  function hourMinute(date) { return `${pad(date.getHours())}:${pad(date.getMinutes())}`; }

  /** '2026-12-07T14:30:00' as 'Mon 07 Dec 2026 14:30', as the admin's pages write it. */
  function spoken(wall) {
    const day = new Date(Date.UTC(+wall.slice(0, 4), +wall.slice(5, 7) - 1, +wall.slice(8, 10)));
    return `${DAYS[day.getUTCDay()]} ${wall.slice(8, 10)} ${MONTHS[day.getUTCMonth()]} ${wall.slice(0, 4)} ` +
      wall.slice(11, 16);
  }

  /** The location's offset from UTC at a wall-clock time ('-05:00'), from the browser's zone data. */
  function offsetAt(wall) {
    const format = new Intl.DateTimeFormat('en-GB', {timeZone: config.zone, timeZoneName: 'longOffset'});
    const asUtc = Date.parse(wall + 'Z');
    let text = '+00:00';
    let guess = asUtc;
    for (let i = 0; i < 2; i++) {
      const name = format.formatToParts(new Date(guess)).find((part) => part.type === 'timeZoneName').value;
      const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
      const minutes = match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : 0;
      text = match ? `${match[1]}${match[2]}:${match[3]}` : '+00:00';
      guess = asUtc - minutes * 60000;
    }
    return text;
  }

  function instant(wall) { return wall + offsetAt(wall); }

  function nowWall() {
    const parts = new Intl.DateTimeFormat('en-CA', {timeZone: config.zone, hourCycle: 'h23', year: 'numeric',
      month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit'}).formatToParts(new Date());
    const part = (type) => parts.find((p) => p.type === type).value;
    return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}`;
  }

  // ---- the API

  function problemText(answer) {
    const texts = [];
    for (const list of Object.values(answer.errors || {})) texts.push(...list);
    return texts.length ? texts.join(' ') : (answer.detail || 'The server refused this.');
  }

  async function call(method, path, data, etag) {
    const headers = {'Accept': 'application/json', 'X-CSRFToken': csrf};
    if (data !== undefined) headers['Content-Type'] = 'application/json';
    if (etag) headers['If-Match'] = etag;
    const response = await fetch(config.urls.api + path, {
      method, headers, credentials: 'same-origin', body: data === undefined ? undefined : JSON.stringify(data),
    });
    let answer;
    try { answer = await response.json(); } catch (error) { answer = {detail: response.statusText}; }
    if (!response.ok) throw new Error(problemText(answer));
    return answer;
  }

  function query(values) { return new URLSearchParams(values).toString(); }

  // ---- building the page's pieces without HTML strings

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === 'on') for (const [type, handler] of Object.entries(value)) node.addEventListener(type, handler);
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  function closePopover() {
    if (popover) popover.remove();
    popover = null;
  }

  function openPopover(jsEvent, heading, ...content) {
    closePopover();
    popover = el('div', {class: 'popover', role: 'dialog', 'aria-label': heading, id: 'calendar-popover'},
      el('button', {type: 'button', class: 'close', 'aria-label': 'Close', on: {click: closePopover}}, '×'),
      el('h3', {}, heading), ...content);
    document.body.append(popover);
    popover.anchor = {x: jsEvent.clientX, y: jsEvent.clientY};
    placePopover();
    // Keep it on the screen as its content grows (a new patient's form, a refusal).
    new MutationObserver(placePopover).observe(popover, {childList: true, subtree: true});
    return popover;
  }

  function placePopover() {
    if (!popover) return;
    const {x, y} = popover.anchor;
    popover.style.left = `${Math.max(8, Math.min(x + 8, window.innerWidth - popover.offsetWidth - 8))}px`;
    popover.style.top = `${Math.max(8, Math.min(y + 8, window.innerHeight - popover.offsetHeight - 8))}px`;
  }

  // ---- the calendar's data

  function toEvents(answer) {
    const every = answer.resources.map((resource) => String(resource.id));
    const events = answer.sessions.map((session) => ({
      id: String(session.id), resourceIds: [String(session.resource)], start: session.start, end: session.end,
      title: session.patient_name, classNames: ['ionto-session', `ionto-${session.state}`],
      startEditable: config.canChange && session.actions.includes('move'),
      durationEditable: config.canChange && session.actions.includes('move'),
      extendedProps: {session},
    }));
    for (const span of answer.closed) {
      events.push({start: span.start, end: span.end, display: 'background', title: span.reason,
        resourceIds: span.resource === null ? every : [String(span.resource)], classNames: ['closed']});
    }
    return events;
  }

  function asResource(resource) {
    return {id: String(resource.id), title: resource.note ? `${resource.title} (${resource.note})` : resource.title};
  }

  function showResources() {
    const chosen = filter.value;
    const shown = resources.filter((resource) => !chosen || String(resource.id) === chosen).map(asResource);
    const key = JSON.stringify(shown);
    if (key !== shownResources) {
      shownResources = key;
      calendar.setOption('resources', shown);
    }
  }

  function load(info, success, failure) {
    const values = {location: config.location, start: wallOf(info.start).slice(0, 10),
      end: wallOf(info.end).slice(0, 10), by: config.by};
    performance.mark('calendar-asked');
    call('GET', `calendar/?${query(values)}`).then((answer) => {
      performance.mark('calendar-answered');
      if (JSON.stringify(answer.resources) !== JSON.stringify(resources)) {
        resources = answer.resources;
        const chosen = filter.value;
        filter.replaceChildren(el('option', {value: ''}, 'All'),
          ...resources.map((r) => el('option', {value: r.id, selected: String(r.id) === chosen ? 'selected' : false}, r.title)));
      }
      const limits = `${answer.day_starts}|${answer.day_ends}`;
      if (limits !== timeLimits) {
        timeLimits = limits;
        calendar.setOption('slotMinTime', answer.day_starts);
        calendar.setOption('slotMaxTime', answer.day_ends);
      }
      showResources();
      success(toEvents(answer));
      document.getElementById('calendar').dataset.loaded = `${values.start}/${answer.sessions.length}`;
    }).catch((error) => {
      say(error.message, 'error');
      failure(error);
    });
  }

  // ---- moving by drag and drop, changing the length by the lower edge

  function moved(info, data) {
    const session = info.event.extendedProps.session;
    closePopover();
    call('POST', `appointments/${session.id}/move/`, data, session.etag).then((answer) => {
      say(`Moved the session of ${session.patient_name} to ${spoken(answer.local_starts_at.slice(0, 19))}` +
        (data.minutes ? ` for ${data.minutes} minutes.` : '.'), 'success');
      calendar.refetchEvents();
    }).catch((error) => {
      info.revert();
      say(`Not moved: ${error.message}`, 'error');
    });
  }

  function onDrop(info) {
    const data = {starts_at: instant(wallOf(info.event.start))};
    if (info.newResource) data[config.by] = Number(info.newResource.id);
    moved(info, data);
  }

  function onResize(info) {
    const minutes = Math.round((info.event.end - info.event.start) / 60000);
    moved(info, {starts_at: instant(wallOf(info.event.start)), minutes});
  }

  // ---- a session's pop-over: its facts and what can be done now

  function act(session, path, data, done) {
    call('POST', `appointments/${session.id}/${path}/`, data, session.etag).then(() => {
      closePopover();
      say(done, 'success');
      calendar.refetchEvents();
    }).catch((error) => say(error.message, 'error'));
  }

  function bookNextUrl(session) {
    return `${config.urls.bookNext}?${query({course: session.course, location: config.location,
      clinician: session.clinician, room: session.room, device: session.device, at: session.start.slice(11, 16)})}`;
  }

  function onEventClick(info) {
    if (info.event.display === 'background') return;
    const session = info.event.extendedProps.session;
    const who = session.patient_name;
    const when = spoken(session.start);
    const buttons = [];
    if (config.canChange && session.actions.includes('arrive')) {
      buttons.push(el('button', {type: 'button', class: 'button default', id: 'action-arrive',
        on: {click: () => act(session, 'arrive', undefined, `${who} has arrived.`)}}, 'Arrived'));
    }
    if (config.canChange && session.actions.includes('noshow')) {
      buttons.push(el('button', {type: 'button', class: 'button', id: 'action-noshow',
        on: {click: () => act(session, 'noshow', undefined, `${who} is marked as a no-show.`)}}, 'No-show'));
    }
    const cancelForm = el('div', {hidden: 'hidden', id: 'cancel-form'},
      el('label', {for: 'cancel-by'}, 'Who cancels'),
      el('select', {id: 'cancel-by'}, el('option', {value: 'patient'}, 'The patient'), el('option', {value: 'clinic'}, 'The clinic')),
      el('label', {for: 'cancel-reason'}, 'Why'), el('input', {type: 'text', id: 'cancel-reason', maxlength: 200}),
      el('div', {class: 'actions'}, el('button', {type: 'button', class: 'button', id: 'cancel-confirm', on: {click: () => act(
        session, 'cancel', {by: document.getElementById('cancel-by').value, reason: document.getElementById('cancel-reason').value},
        `The session of ${who} on ${when} is cancelled.`)}}, 'Cancel the session')));
    if (config.canChange && session.actions.includes('cancel')) {
      buttons.push(el('button', {type: 'button', class: 'button', id: 'action-cancel',
        on: {click: () => { cancelForm.hidden = false; document.getElementById('cancel-reason').focus(); }}}, 'Cancel…'));
    }
    if (config.canChange && session.actions.includes('move')) {
      buttons.push(el('a', {class: 'button', id: 'action-move', href: config.urls.move.replace('/0/', `/${session.id}/`)}, 'Move…'));
    }
    if (config.canBook && session.actions.includes('book_next')) {
      buttons.push(el('a', {class: 'button', id: 'action-book-next', href: bookNextUrl(session)}, 'Book next session'));
    }
    openPopover(info.jsEvent, who,
      el('p', {}, `${session.time_text} · born ${session.date_of_birth.split('-').reverse().join('/')}`),
      el('p', {}, `${session.clinician_name} · ${session.room_name} · ${session.device_name}`),
      el('p', {}, el('span', {class: `ionto-state ionto-${session.state}`}, session.state_label), ' ',
        session.badges.map((badge) => el('span', {class: `badge ${badge.kind}`}, badge.label))),
      el('p', {}, el('a', {href: config.urls.session.replace('/0/', `/${session.id}/`)}, 'Open the session'), ' · ',
        el('a', {href: config.urls.patient.replace('/0/', `/${session.patient}/`)}, 'Patient page')),
      el('div', {class: 'actions'}, buttons), cancelForm);
  }

  // ---- a free time: find the patient (or register one), their open course here, book

  function field(label, id, attributes) {
    return [el('label', {for: id}, label), el('input', {id, type: 'text', ...attributes})];
  }

  function value(id) { return document.getElementById(id).value.trim(); }

  function choices(id, options, selected) {
    return el('select', {id}, options.map(([key, label]) => el('option', {value: key, selected: key === selected ? 'selected' : false}, label)));
  }

  function courseFields() {
    return el('div', {id: 'course-fields'},
      el('label', {for: 'course-indication'}, 'Indication'), choices('course-indication', config.indications, 'hyperhidrosis'),
      el('label', {for: 'course-site'}, 'Body site'), choices('course-site', config.bodySites, 'palms'),
      ...field('Medication (medicated courses)', 'course-medication', {}),
      ...field('Sessions planned (6-10)', 'course-sessions', {value: '8', inputmode: 'numeric'}),
      ...field('Minutes a session (25-45)', 'course-minutes', {value: '30', inputmode: 'numeric'}));
  }

  function coursePlan(patientId) {
    return call('POST', 'courses/', {patient: patientId, location: config.location, indication: value('course-indication'),
      body_sites: [value('course-site')], medication: value('course-medication'),
      planned_sessions: Number(value('course-sessions')), session_minutes: Number(value('course-minutes'))});
  }

  async function bookAt(wall, column, patient, course) {
    const day = wall.slice(0, 10);
    const next = new Date(Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10) + 1)).toISOString().slice(0, 10);
    const free = await call('GET', `availability/?${query({location: config.location, start: day, end: next,
      minutes: course.session_minutes, patient: patient.id, [config.by]: column})}`);
    const slot = free.slots.find((candidate) => candidate.local_starts_at.slice(0, 16) === wall.slice(0, 16));
    const chosen = slot ? {clinician: slot.clinician, room: slot.room, device: slot.device} : null;
    if (chosen === null) {
      throw new Error(`No clinician, room and device are free together at ${spoken(wall)} for a ` +
        `${course.session_minutes}-minute session in this column; choose another time.`);
    }
    return call('POST', 'appointments/', {course: course.id, starts_at: instant(wall), ...chosen});
  }

  function onDateClick(info) {
    if (!config.canBook || info.allDay) return;
    const wall = wallOf(info.date);
    if (wall < nowWall()) {
      say('That time has passed.', 'error');
      return;
    }
    const column = info.resource ? Number(info.resource.id) : null;
    const columnName = info.resource ? info.resource.title : '';
    const status = el('p', {id: 'book-status', role: 'status'});
    const found = el('ul', {class: 'found', id: 'patient-results'});
    const step = el('div', {id: 'book-step'});
    let patient = null;

    function fail(error) { status.textContent = error.message; status.className = 'errornote'; }

    function booked(appointment) {
      closePopover();
      say(`Booked: ${appointment.patient_name}, ${spoken(appointment.local_starts_at.slice(0, 19))} ` +
        `${appointment.room_name}.`, 'success');
      calendar.refetchEvents();
    }

    async function choosePatient(chosen) {
      patient = chosen;
      found.replaceChildren();
      status.textContent = '';
      const courses = (await call('GET', `courses/?${query({patient: patient.id, location: config.location})}`)).results
        .filter((course) => course.status === 'planned' || course.status === 'active');
      const label = `${patient.last_name}, ${patient.first_name} (born ${patient.date_of_birth.split('-').reverse().join('/')})`;
      if (courses.length) {
        step.replaceChildren(el('p', {}, el('strong', {}, label)),
          el('label', {for: 'book-course'}, 'Course'),
          choices('book-course', courses.map((c) => [String(c.id), `${c.indication}, ${c.body_sites.join(', ')}: ` +
            `${c.planned_sessions} sessions of ${c.session_minutes} min`]), String(courses[0].id)),
          el('div', {class: 'actions'}, el('button', {type: 'button', class: 'button default', id: 'book-confirm', on: {click: () => {
            const course = courses.find((c) => String(c.id) === value('book-course'));
            bookAt(wall, column, patient, course).then(booked).catch(fail);
          }}}, `Book ${spoken(wall).slice(-5)}`)));
      } else {
        step.replaceChildren(el('p', {}, el('strong', {}, label), ' has no open course here: plan it now.'), courseFields(),
          el('div', {class: 'actions'}, el('button', {type: 'button', class: 'button default', id: 'book-confirm', on: {click: () => {
            coursePlan(patient.id).then((course) => bookAt(wall, column, patient, course)).then(booked).catch(fail);
          }}}, 'Plan the course and book')));
      }
    }

    function search(text) {
      if (text.trim().length < 2) { found.replaceChildren(); return; }
      call('GET', `patients/?${query({search: text, page_size: 8})}`).then((answer) => {
        found.replaceChildren(...answer.results.map((p) => el('li', {}, el('button', {type: 'button', on: {click: () => choosePatient(p).catch(fail)}},
          `${p.last_name}, ${p.first_name} · ${p.date_of_birth.split('-').reverse().join('/')}${p.phone ? ' · ' + p.phone : ''}`))));
        if (!answer.results.length) found.replaceChildren(el('li', {}, 'No patient you can see matches.'));
      }).catch(fail);
    }

    function newPatient() {
      found.replaceChildren();
      const screening = config.canScreen ? el('div', {class: 'checks', id: 'screening-fields'},
        el('label', {}, el('strong', {}, 'Screening: tick every contraindication that applies')),
        config.contraindications.map(([name, label]) => el('label', {}, el('input', {type: 'checkbox', name, class: 'screening-answer'}), label)))
        : el('p', {class: 'help'}, 'A clinician records the screening before the first session can be booked.');
      step.replaceChildren(
        ...field('First name', 'new-first-name', {}), ...field('Last name', 'new-last-name', {}),
        ...field('Date of birth', 'new-date-of-birth', {type: 'date'}), ...field('Phone', 'new-phone', {}),
        ...field('Email', 'new-email', {type: 'email'}), screening, courseFields(),
        el('div', {class: 'actions'}, el('button', {type: 'button', class: 'button default', id: 'new-patient-book', on: {click: registerAndBook}},
          'Register, plan and book')));
    }

    async function registerAndBook() {
      status.textContent = '';
      try {
        patient = await call('POST', 'patients/', {first_name: value('new-first-name'), last_name: value('new-last-name'),
          date_of_birth: value('new-date-of-birth'), phone: value('new-phone'), email: value('new-email'),
          preferred_location: config.location});
        if (config.canScreen) {
          const answers = {};
          for (const box of document.querySelectorAll('.screening-answer')) answers[box.name] = box.checked;
          await call('POST', 'screenings/', {patient: patient.id, answers});
        }
        const course = await coursePlan(patient.id);
        booked(await bookAt(wall, column, patient, course));
      } catch (error) {
        fail(error);
        if (patient) {
          status.append(' ', el('a', {href: config.urls.patient.replace('/0/', `/${patient.id}/`)},
            `${patient.first_name} ${patient.last_name} is registered: open the patient page.`));
        }
      }
    }

    const searchBox = el('input', {type: 'search', id: 'patient-search', placeholder: 'Name, phone, email or date of birth',
      autocomplete: 'off', on: {input: (event) => search(event.target.value)}});
    openPopover(info.jsEvent, `Book ${spoken(wall)}${columnName ? ' · ' + columnName : ''}`,
      el('label', {for: 'patient-search'}, 'Patient'), searchBox, found,
      config.canAddPatient ? el('button', {type: 'button', class: 'button', id: 'new-patient', on: {click: newPatient}}, 'New patient') : null,
      step, status);
    searchBox.focus();
  }

  // ---- the calendar itself

  const calendar = EventCalendar.create(document.getElementById('calendar'), {
    view: config.view, date: config.date, firstDay: 1, timeZone: offsetAt(nowWall()), nowIndicator: true,
    allDaySlot: false, datesAboveResources: true, height: '78vh', scrollTime: '08:00:00',
    slotDuration: {minutes: config.slotMinutes}, snapDuration: {minutes: config.slotMinutes},
    slotLabelFormat: {hour: '2-digit', minute: '2-digit', hour12: false},
    eventTimeFormat: (start, end) => `${hourMinute(start)}-${hourMinute(end)}`,
    dayHeaderFormat: {weekday: 'short', day: '2-digit', month: 'short'},
    headerToolbar: {start: 'prev,today,next', center: 'title', end: 'resourceTimeGridDay,resourceTimeGridWeek'},
    buttonText: (text) => ({...text, today: 'Today', resourceTimeGridDay: 'Day', resourceTimeGridWeek: 'Week'}),
    resources: config.resources.map(asResource),
    slotMinTime: config.dayStarts, slotMaxTime: config.dayEnds, filterEventsWithResources: true,
    eventSources: [{events: load}],
    editable: config.canChange, eventStartEditable: config.canChange, eventDurationEditable: config.canChange,
    eventContent: (info) => {
      const session = info.event.extendedProps.session;
      if (!session) return {html: ''};
      return {domNodes: [el('div', {class: 'session', 'data-appointment': session.id},
        el('strong', {}, session.patient_name), el('span', {}, session.time_text),
        el('span', {}, session.badges.map((badge) => el('span', {class: `badge ${badge.kind}`}, badge.label))))]};
    },
    eventClick: onEventClick, eventDrop: onDrop, eventResize: onResize, dateClick: onDateClick,
    eventAllUpdated: () => {
      // How long the answer took to draw (bench/calendar.py reads these measures).
      if (performance.getEntriesByName('calendar-answered').length) {
        performance.measure('calendar-draw', 'calendar-answered');
        performance.measure('calendar-load', 'calendar-asked');
        performance.clearMarks('calendar-answered');
      }
      const drawn = document.querySelectorAll('#calendar .ec-event.ionto-session').length;
      document.getElementById('calendar').dataset.drawn = String(drawn);
    },
  });

  filter.append(...resources.map((r) => el('option', {value: r.id}, r.title)));
  shownResources = JSON.stringify(resources.map(asResource));
  filter.addEventListener('change', showResources);
  document.addEventListener('keydown', (event) => { if (event.key === 'Escape') closePopover(); });
})();
